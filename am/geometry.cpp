#include "am/geometry.h"

#include <algorithm>
#include <cmath>

#include "am/part_families.h"
#include "am/rng.h"
#include "common/error.h"

namespace flare::am {

using Eigen::Vector3d;

namespace {

// Sampling grids larger than this are refused: a part family never needs one, and an explicit
// --voxel that small would take minutes and gigabytes.
constexpr std::int64_t kMaxSampleVoxels = 200'000'000;
// An enclosed empty region this small in a one_solid family is a pinhole left by sampling a
// slanted wall at voxel centres (loft: 3 parts in 400 had one of 1-2 voxels), not a design.
constexpr std::int64_t kMaxPinholeVoxels = 8;

const PartFamily& find_family(const std::string& name) {
  std::string known;
  for (const PartFamily& f : family_table()) {
    if (name == f.name) return f;
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  }
  throw InputError("unknown part family '" + name + "' (known: " + known + ")");
}

std::int64_t grid_voxels(const Shape& s, double h) {
  Vector3d n = (s.box.sizes() / h).array().ceil().max(1.0).matrix();
  return std::int64_t(n.x()) * std::int64_t(n.y()) * std::int64_t(n.z());
}

// Solid where the shape function is <= 0 at the voxel centre; the grid spans the shape's box,
// whose bottom is the plate z = 0.
VoxelGrid sample(const Shape& s, double h) {
  Vector3d size = s.box.sizes();
  int nx = std::max(1, int(std::ceil(size.x() / h))), ny = std::max(1, int(std::ceil(size.y() / h)));
  int nz = std::max(1, int(std::ceil(size.z() / h)));
  VoxelGrid g = VoxelGrid::empty(s.box.min(), h, nx, ny, nz);
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        Vector3d c = g.origin + h * Vector3d(i + 0.5, j + 0.5, k + 0.5);
        g.solid[g.index(i, j, k)] = s.sdf(c) <= 0;
      }
  return g;
}

}  // namespace

void parse_node_range(const std::string& text, const std::string& option, PartOptions& opts) {
  const auto dots = text.find("..");
  long long lo = 0, hi = 0;
  std::size_t used_lo = 0, used_hi = 0;
  bool ok = dots != std::string::npos;
  if (ok) {
    try {
      lo = std::stoll(text.substr(0, dots), &used_lo);
      hi = std::stoll(text.substr(dots + 2), &used_hi);
    } catch (const std::exception&) {
      ok = false;
    }
  }
  ok = ok && used_lo == dots && used_hi == text.size() - dots - 2 && lo > 0 && hi >= lo;
  FLARE_INPUT_CHECK(ok, option, " '", text, "': expected a node range MIN..MAX such as 5000..50000");
  opts.min_nodes = lo;
  opts.max_nodes = hi;
}

const std::vector<std::string>& part_families() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const PartFamily& f : family_table()) n.push_back(f.name);
    return n;
  }();
  return names;
}

bool family_added_later(const std::string& name) {
  for (const PartFamily& f : family_table())
    if (name == f.name) return f.added_later;
  return false;
}

const std::vector<std::pair<std::string, std::string>>& part_family_descriptions() {
  static const std::vector<std::pair<std::string, std::string>> d = [] {
    std::vector<std::pair<std::string, std::string>> v;
    for (const PartFamily& f : family_table()) v.emplace_back(f.name, f.description);
    return v;
  }();
  return d;
}

PartSpec make_part(const std::string& family, std::uint64_t seed, const PartOptions& opts) {
  const PartFamily& fam = find_family(family);
  const bool fixed = opts.voxel > 0;
  if (!fixed)
    FLARE_INPUT_CHECK(opts.min_nodes >= 8 && opts.max_nodes >= opts.min_nodes &&
                          opts.max_nodes >= opts.min_nodes * 1.2,
                      "node range ", opts.min_nodes, "..", opts.max_nodes,
                      " is too narrow or below 8 nodes (give a range like 5000..50000, max at least "
                      "1.2 x min)");
  const std::uint64_t base = seed ^ hash_name(family);
  std::string last_failure;
  for (int attempt = 0; attempt < (fixed ? 1 : opts.max_attempts); ++attempt) {
    Rng rng(sub_seed(base, std::uint64_t(attempt)));
    nlohmann::json params = nlohmann::json::object();
    Shape shape = fam.build(rng, params);
    FLARE_CHECK(!shape.box.isEmpty() && shape.box.min().z() == 0, "family ", family,
                " built a part not standing on z = 0");
    // Two voxels through the thinnest feature; in the second half of the attempts one, so thin
    // families (ribs, lattices, gyroids) still fit small node ranges, coarsely.
    const int across = attempt < opts.max_attempts / 2 ? 2 : 1;
    const double h_feature = shape.min_feature / across;
    double target = fixed ? 0 : rng.log_uniform(double(opts.min_nodes), double(opts.max_nodes));

    VoxelGrid grid;
    IslandReport islands;
    std::int64_t nodes = 0, pinholes = 0;
    double h = fixed ? opts.voxel : std::min(h_feature, std::cbrt(shape.box.volume() / target));
    // Node count falls roughly as h^-3: a few secant-like steps land it near the target.
    for (int step = 0; step < 12; ++step) {
      std::int64_t voxels = grid_voxels(shape, h);
      if (voxels > kMaxSampleVoxels) {
        FLARE_INPUT_CHECK(!fixed, "part family ", family, ": voxel size ", h, " gives a grid of ",
                          voxels, " voxels (limit ", kMaxSampleVoxels, "); use a voxel size of at least ",
                          h * std::cbrt(double(voxels) / kMaxSampleVoxels));
        nodes = -1;
        break;
      }
      grid = sample(shape, h);
      islands = keep_plate_connected(grid);
      if (fam.one_solid) {
        const IslandReport rest = keep_largest_component(grid);
        islands.dropped_islands += rest.dropped_islands;
        islands.dropped_voxels += rest.dropped_voxels;
        pinholes = fill_pinholes(grid, kMaxPinholeVoxels);
      }
      nodes = grid.count_nodes();
      if (fixed) break;
      if (nodes >= std::max<double>(opts.min_nodes, 0.9 * target) &&
          nodes <= std::min<double>(opts.max_nodes, 1.1 * target))
        break;
      double next = nodes > 0 ? std::min(h_feature, h * std::cbrt(double(nodes) / target)) : h / 2;
      if (next == h) break;  // held at the feature limit: more resolution would leave the range
      h = next;
    }
    if (fixed) {
      FLARE_INPUT_CHECK(nodes > 0, "part family ", family, " seed ", seed, ": voxel size ", h,
                        " leaves no solid voxel (use a smaller voxel size, e.g. ", h / 4, ")");
    } else {
      const std::int64_t kept = grid.count_solid();
      if (nodes < opts.min_nodes || nodes > opts.max_nodes) {
        last_failure = "node count " + std::to_string(nodes) + " out of range";
        continue;
      }
      // More than 5% of the material floating means the parameters made a different part than
      // the family describes (a hole severing the top, struts thinner than a voxel).
      if (islands.dropped_voxels > 0.05 * double(kept + islands.dropped_voxels)) {
        last_failure = std::to_string(islands.dropped_voxels) + " voxels in floating islands";
        continue;
      }
    }
    PartSpec spec;
    spec.family = family;
    spec.seed = seed;
    spec.nodes = nodes;
    spec.grid = std::move(grid);
    spec.params = {{"family", family}, {"seed", seed},   {"attempt", attempt},
                   {"voxel", h},       {"nodes", nodes}, {"parameters", params}};
    if (!fixed) spec.params["min_feature_voxels"] = across;
    if (!fixed) spec.params["target_nodes"] = std::llround(target);
    if (islands.dropped_islands > 0) spec.params["dropped_island_voxels"] = islands.dropped_voxels;
    if (pinholes > 0) spec.params["filled_pinhole_voxels"] = pinholes;
    return spec;
  }
  throw InputError("part family " + family + " seed " + std::to_string(seed) + ": no parameters in " +
                   std::to_string(opts.max_attempts) + " draws gave a part with " +
                   std::to_string(opts.min_nodes) + ".." + std::to_string(opts.max_nodes) +
                   " nodes (last: " + last_failure + "); widen the node range");
}

}  // namespace flare::am
