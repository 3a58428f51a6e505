#include "am/layer_study.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "am/voxel_grid.h"
#include "am/voxelize.h"
#include "common/error.h"

namespace flare::am {

namespace {

double voxel_of(const mesh::Mesh& m) {
  if (m.field_data.has("voxel_size")) return m.field_data.get("voxel_size", "study").get(0);
  FLARE_CHECK(m.num_cells() > 0, "layer study: a mesh without cells");
  const std::int64_t* c = m.cell(0);
  double h = 0;
  for (int a = 1; a < m.cell_size(0); ++a) {
    const double d = (m.points.row(c[a]) - m.points.row(c[0])).cwiseAbs().maxCoeff();
    if (h == 0 || (d > 0 && d < h)) h = d;
  }
  return h;
}

struct Key {
  std::int64_t x, y, z;
  bool operator==(const Key& o) const { return x == o.x && y == o.y && z == o.z; }
};
struct KeyHash {
  std::size_t operator()(const Key& k) const {
    return std::size_t(k.x * 73856093) ^ std::size_t(k.y * 19349663) ^ std::size_t(k.z * 83492791);
  }
};

Key key_of(const mesh::Mesh& m, std::int64_t i, double q) {
  return {std::llround(m.points(i, 0) / q), std::llround(m.points(i, 1) / q), std::llround(m.points(i, 2) / q)};
}

}  // namespace

mesh::Mesh study_part(const mesh::Mesh& surface, double size, int voxels, const std::string& source) {
  FLARE_INPUT_CHECK(size > 0 && voxels >= 2, "layer study: size and voxels must be positive");
  mesh::Mesh s = surface;
  const Eigen::RowVector3d lo = s.points.colwise().minCoeff(), hi = s.points.colwise().maxCoeff();
  const double extent = (hi - lo).maxCoeff();
  FLARE_INPUT_CHECK(extent > 0, source, ": the surface is a point");
  for (std::int64_t i = 0; i < s.num_points(); ++i) s.points.row(i) = (s.points.row(i) - lo) * (size / extent);
  VoxelizeOptions vo;
  vo.voxel = size / voxels;
  vo.max_nodes = 60'000'000;
  return voxel_mesh(voxelize(s, vo, source));
}

double shared_node_difference(const mesh::Mesh& a, const mesh::Mesh& b, const std::string& array,
                              std::int64_t* shared) {
  const double q = 1e-6 * std::min(voxel_of(a), voxel_of(b)) + 1e-12;
  std::unordered_map<Key, std::int64_t, KeyHash> index;
  index.reserve(std::size_t(b.num_points()));
  for (std::int64_t i = 0; i < b.num_points(); ++i) index.emplace(key_of(b, i, q), i);
  const auto fa = a.point_data.get(array, "layer study").to_doubles();
  const auto fb = b.point_data.get(array, "layer study").to_doubles();
  const int k = a.point_data.get(array, "layer study").components();
  double d = 0, n = 0;
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < a.num_points(); ++i) {
    const auto it = index.find(key_of(a, i, q));
    if (it == index.end()) continue;
    ++count;
    for (int c = 0; c < k; ++c) {
      const double x = fa[std::size_t(k * i + c)], y = fb[std::size_t(k * it->second + c)];
      d += (x - y) * (x - y);
      n += y * y;
    }
  }
  if (shared) *shared = count;
  FLARE_CHECK(count > 0 && n > 0, "layer study: the meshes share no node with a nonzero field");
  return std::sqrt(d / n);
}

double smooth_difference(const mesh::Mesh& a, const mesh::Mesh& b, const std::string& array, double box) {
  auto averages = [&](const mesh::Mesh& m) {
    std::map<std::array<std::int64_t, 3>, std::array<double, 4>> boxes;  // sums of 3 comps, count
    const auto f = m.point_data.get(array, "layer study").to_doubles();
    const int k = m.point_data.get(array, "layer study").components();
    FLARE_CHECK(k == 3, "layer study: the smooth comparison takes a 3-vector field");
    for (std::int64_t i = 0; i < m.num_points(); ++i) {
      const std::array<std::int64_t, 3> key{std::int64_t(std::floor(m.points(i, 0) / box)),
                                            std::int64_t(std::floor(m.points(i, 1) / box)),
                                            std::int64_t(std::floor(m.points(i, 2) / box))};
      auto& s = boxes[key];
      for (int c = 0; c < 3; ++c) s[c] += f[std::size_t(3 * i + c)];
      s[3] += 1;
    }
    return boxes;
  };
  const auto ba = averages(a), bb = averages(b);
  double d = 0, n = 0;
  for (const auto& [key, sa] : ba) {
    const auto it = bb.find(key);
    if (it == bb.end()) continue;
    for (int c = 0; c < 3; ++c) {
      const double x = sa[c] / sa[3], y = it->second[c] / it->second[3];
      d += (x - y) * (x - y);
      n += y * y;
    }
  }
  FLARE_CHECK(n > 0, "layer study: no common boxes");
  return std::sqrt(d / n);
}

StudyChoice choose_layer_height(const std::vector<StudyRow>& rows, double target) {
  // Per part, on its finest voxel: the coarsest layer height within target of the next finer.
  std::map<std::string, double> finest;
  for (const StudyRow& r : rows) {
    auto [it, added] = finest.try_emplace(r.part, r.voxel);
    if (!added) it->second = std::min(it->second, r.voxel);
  }
  StudyChoice c;
  c.within = true;
  c.layer = INFINITY;
  for (const auto& [part, voxel] : finest) {
    double best = -1, best_d = 0, finest_layer = INFINITY, finest_gap = -1, smallest = INFINITY;
    for (const StudyRow& r : rows) {
      if (r.part != part || r.voxel != voxel) continue;
      smallest = std::min(smallest, r.layer);
      if (r.to_half_layer >= 0 && r.to_half_layer <= target && r.layer > best) {
        best = r.layer;
        best_d = r.to_half_layer;
      }
      if (r.to_half_layer >= 0 && r.layer < finest_layer) {
        finest_layer = r.layer;
        finest_gap = r.to_half_layer;
      }
    }
    FLARE_CHECK(finest_gap >= 0, "layer study: part ", part, " has no layer height with a finer one");
    if (best > 0) {
      if (best < c.layer) c.layer = best;
      c.worst = std::max(c.worst, best_d);
    } else {
      // None within target: the finest studied, whose error is about its last difference.
      c.within = false;
      c.layer = std::min(c.layer, smallest);
      c.worst = std::max(c.worst, finest_gap);
    }
  }
  return c;
}

}  // namespace flare::am
