#include "am/voxel_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "am/voxelize.h"
#include "common/error.h"

namespace flare::am {

namespace {

// Node count of the hex mesh voxel_mesh() makes from `grid` (which drops floating islands).
std::int64_t mesh_nodes(const VoxelGrid& grid) {
  VoxelGrid kept = grid;
  keep_plate_connected(kept);
  return kept.count_nodes();
}

}  // namespace

VoxelFit voxelize_for_nodes(const mesh::Mesh& surface, std::int64_t target_nodes, double min_voxel,
                            double max_voxel, const std::string& source) {
  FLARE_INPUT_CHECK(target_nodes >= 8, source, ": the wanted node count must be at least 8 (got ",
                    target_nodes, ")");
  FLARE_INPUT_CHECK(min_voxel > 0 && min_voxel <= max_voxel, source, ": bad voxel size range [",
                    min_voxel, ", ", max_voxel, "]");
  const double target = double(target_nodes);
  auto clamp = [&](double h) { return std::clamp(h, min_voxel, max_voxel); };

  // First guess: the voxelize() estimate V/h^3 + A/(2h^2) solved for h by bisection in log h
  // (it decreases in h). An open or empty surface has no meaningful V: voxelize() says why below.
  const TriangleSurface s = triangle_surface(surface, source);
  const double volume = std::abs(s.volume()), area = s.area();
  double h = min_voxel;
  if (volume > 0 && area > 0) {
    auto estimate = [&](double x) { return volume / (x * x * x) + area / (2 * x * x); };
    double lo = 1e-9, hi = 1e9;
    for (int i = 0; i < 200 && hi / lo > 1 + 1e-12; ++i) {
      const double mid = std::sqrt(lo * hi);
      (estimate(mid) > target ? lo : hi) = mid;
    }
    h = lo;
  }
  h = clamp(h);

  VoxelFit best;
  double best_err = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 8; ++step) {
    VoxelizeOptions opts;
    opts.voxel = h;
    VoxelGrid grid = voxelize(surface, opts, source);
    const std::int64_t n = mesh_nodes(grid);
    // A size that leaves nothing solid is kept only until a better one is found; voxel_mesh()
    // refuses it with its own message.
    const double err = n > 0 ? std::abs(std::log(double(n) / target)) : std::numeric_limits<double>::max();
    if (err < best_err) {
      best_err = err;
      best.voxel = h;
      best.nodes = n;
      best.grid = std::move(grid);
    }
    if (n > 0 && n >= 0.9 * target && n <= 1.1 * target) break;
    const double next = clamp(n > 0 ? h * std::cbrt(double(n) / target) : h / 2);
    if (next == h) break;  // held at a bound of the voxel range
    h = next;
  }
  return best;
}

}  // namespace flare::am
