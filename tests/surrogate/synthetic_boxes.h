// Synthetic training task with a known answer: hexahedral boxes of random sizes carrying
// f = sin(π x/Lx)·z/Lz + distance to the box boundary, an analytic function of the geometry that
// needs each box's extent (global context), not just the point's own coordinates.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "surrogate/dataset.h"

namespace flare::test {

inline mesh::Mesh synthetic_box(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return lo + int(rng() % std::uint64_t(hi - lo + 1)); };
  const int nx = pick(5, 8), ny = pick(4, 7), nz = pick(3, 6);
  const double h = 0.5 + double(rng() % 1000) / 1000.0;
  mesh::Mesh m = mesh::hex_grid(nx, ny, nz, h);
  const double Lx = nx * h, Ly = ny * h, Lz = nz * h;
  std::vector<double> f(m.num_points());
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    const double x = m.points(i, 0), y = m.points(i, 1), z = m.points(i, 2);
    const double d = std::min({x, Lx - x, y, Ly - y, z, Lz - z});
    f[i] = std::sin(M_PI * x / Lx) * z / Lz + d;
  }
  m.point_data.put(mesh::DataArray::from_doubles("f", 1, f));
  return m;
}

/// Builds a dataset of `count` boxes in `dir`/data.h5 (meshes stay in memory) and returns its path;
/// target_scale multiplies every target value; fixed_recipe (null: fit one) as
/// DatasetBuildOptions::fixed_recipe; extra_input (non-empty): every box also carries a
/// 3-component point array of that name (a smooth field of the position), read as an input.
inline std::filesystem::path build_synthetic_dataset(
    const std::filesystem::path& dir, int count, std::array<double, 3> split,
    std::uint64_t seed = 7, int recipe_version = mesh::FeatureRecipe::kVersion,
    double target_scale = 1.0, const nlohmann::json& fixed_recipe = nullptr,
    const std::string& extra_input = "") {
  std::mt19937_64 rng(seed);
  std::map<std::string, mesh::Mesh> meshes;
  surrogate::DatasetBuildOptions o;
  for (int k = 0; k < count; ++k) {
    const std::string name = (dir / ("box" + std::to_string(k) + ".vtu")).string();
    meshes[name] = synthetic_box(rng);
    if (target_scale != 1.0) {  // a re-solve of the same parts that lands a little elsewhere
      mesh::DataArray& f = *meshes[name].point_data.find("f");
      for (std::int64_t i = 0; i < f.tuples(); ++i) f.set(i, 0, f.get(i, 0) * target_scale);
    }
    if (!extra_input.empty()) {
      const mesh::Mesh& m = meshes[name];
      std::vector<double> g;
      for (std::int64_t i = 0; i < m.num_points(); ++i)
        g.insert(g.end(), {0.1 * m.points(i, 0) * m.points(i, 2), -0.05 * m.points(i, 1), 0.2 * m.points(i, 2)});
      meshes[name].point_data.put(mesh::DataArray::from_doubles(extra_input, 3, g));
      o.input_arrays = {extra_input};
    }
    o.inputs.push_back(name);
  }
  o.output = dir / "data.h5";
  o.targets = {"f"};
  o.split = split;
  o.seed = 1;
  o.recipe_version = recipe_version;
  o.fixed_recipe = fixed_recipe;
  surrogate::build_dataset(o, [&](const std::filesystem::path& p) { return meshes.at(p.string()); });
  return o.output;
}

/// Writes `count` boxes as `dir`/box<k>.vtu for the CLI tests, each solved with a linear vector
/// field "u" (the target) and tagged with a part family as `am dataset` tags its parts.
template <typename FamilyOf>
void write_solved_boxes(const std::filesystem::path& dir, int count, std::uint64_t seed,
                        FamilyOf family_of) {
  std::mt19937_64 rng(seed);
  for (int k = 0; k < count; ++k) {
    mesh::Mesh m = synthetic_box(rng);
    std::vector<double> u;
    for (std::int64_t i = 0; i < m.num_points(); ++i)
      u.insert(u.end(), {0.01 * m.points(i, 0), 0.0, 0.02 * m.points(i, 2)});
    m.point_data.put(mesh::DataArray::from_doubles("u", 3, u));
    m.field_strings["family"] = family_of(k);
    mesh::write_vtu(m, dir / ("box" + std::to_string(k) + ".vtu"));
  }
}

}  // namespace flare::test
