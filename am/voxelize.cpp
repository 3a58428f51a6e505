#include "am/voxelize.h"

#include <omp.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "am/voxelize_detail.h"

namespace flare::am {

using Eigen::Vector3d;

namespace {

// Grids above this many voxels would need more than a few GB for the flags alone.
constexpr std::int64_t kMaxGridVoxels = 2'000'000'000;

// Twice the signed area of (a, b, p) in the xy plane, computed for the edge in its canonical
// direction (lower vertex id first) and negated for the other direction: the two triangles of an
// edge get bit-identical magnitudes, so a point exactly on the edge is never in both or neither.
struct EdgeFn {
  Eigen::Vector2d a, b;
  double sign;
  bool top_left;  // owner of points exactly on the edge
};

EdgeFn edge_fn(const TriangleSurface& s, std::int32_t u, std::int32_t v) {
  EdgeFn e;
  bool canonical = u < v;
  std::int32_t lo = canonical ? u : v, hi = canonical ? v : u;
  e.a = s.vertices[lo].head<2>();
  e.b = s.vertices[hi].head<2>();
  e.sign = canonical ? 1 : -1;
  // Direction u -> v; a half-plane rule, antisymmetric under reversal.
  Eigen::Vector2d d = s.vertices[v].head<2>() - s.vertices[u].head<2>();
  e.top_left = d.y() > 0 || (d.y() == 0 && d.x() < 0);
  return e;
}

inline double eval(const EdgeFn& e, double x, double y) {
  return e.sign * ((e.b.x() - e.a.x()) * (y - e.a.y()) - (e.b.y() - e.a.y()) * (x - e.a.x()));
}

}  // namespace

namespace detail {

std::vector<Hit> column_crossings(const TriangleSurface& s, const VoxelGrid& g) {
  const double h = g.voxel;
  std::vector<std::vector<Hit>> per_thread(static_cast<std::size_t>(omp_get_max_threads()));
#pragma omp parallel
  {
    std::vector<Hit>& hits = per_thread[std::size_t(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t t = 0; t < std::int64_t(s.triangles.size()); ++t) {
      auto tri = s.triangles[t];
      const Vector3d* P[3] = {&s.vertices[tri[0]], &s.vertices[tri[1]], &s.vertices[tri[2]]};
      double area2 = (P[1]->x() - P[0]->x()) * (P[2]->y() - P[0]->y()) -
                     (P[1]->y() - P[0]->y()) * (P[2]->x() - P[0]->x());
      if (area2 == 0) continue;  // vertical in projection: the neighbours own its rays
      // Counter-clockwise seen from +z: the outward normal points up, the ray leaves.
      const int sign = area2 > 0 ? -1 : 1;
      if (area2 < 0) {  // make it counter-clockwise seen from +z
        std::swap(tri[1], tri[2]);
        std::swap(P[1], P[2]);
      }
      // Edge k is opposite vertex k, so its function is vertex k's barycentric weight.
      const EdgeFn e[3] = {edge_fn(s, tri[1], tri[2]), edge_fn(s, tri[2], tri[0]), edge_fn(s, tri[0], tri[1])};
      double xmin = std::min({P[0]->x(), P[1]->x(), P[2]->x()}), xmax = std::max({P[0]->x(), P[1]->x(), P[2]->x()});
      double ymin = std::min({P[0]->y(), P[1]->y(), P[2]->y()}), ymax = std::max({P[0]->y(), P[1]->y(), P[2]->y()});
      int i0 = std::max(0, int(std::floor((xmin - g.origin.x()) / h - 0.5)));
      int i1 = std::min(g.nx - 1, int(std::ceil((xmax - g.origin.x()) / h - 0.5)));
      int j0 = std::max(0, int(std::floor((ymin - g.origin.y()) / h - 0.5)));
      int j1 = std::min(g.ny - 1, int(std::ceil((ymax - g.origin.y()) / h - 0.5)));
      for (int j = j0; j <= j1; ++j)
        for (int i = i0; i <= i1; ++i) {
          const double x = g.origin.x() + (i + 0.5) * h, y = g.origin.y() + (j + 0.5) * h;
          double w[3];
          bool inside = true;
          for (int k = 0; k < 3 && inside; ++k) {
            w[k] = eval(e[k], x, y);
            inside = w[k] > 0 || (w[k] == 0 && e[k].top_left);
          }
          if (!inside) continue;
          double sum = w[0] + w[1] + w[2];
          double z = sum > 0 ? (w[0] * P[0]->z() + w[1] * P[1]->z() + w[2] * P[2]->z()) / sum
                             : (P[0]->z() + P[1]->z() + P[2]->z()) / 3;
          hits.push_back({i + std::int64_t(g.nx) * j, z, sign});
        }
    }
  }
  std::vector<Hit> hits;
  for (auto& v : per_thread) hits.insert(hits.end(), v.begin(), v.end());
  std::sort(hits.begin(), hits.end(),
            [](const Hit& a, const Hit& b) { return a.column != b.column ? a.column < b.column : a.z < b.z; });
  return hits;
}

}  // namespace detail

namespace {

using detail::Hit;

// Closed surface: the winding number of each voxel centre is the sum of the signs of the
// crossings at or below it (a centre exactly on a crossing counts it: [z_in, z_out) is inside, as
// ray parity had it). Solid where it is >= 1; `overlap` counts centres where it is >= 2.
void fill_by_crossings(const TriangleSurface& s, VoxelGrid& g, std::int64_t& overlap) {
  const std::vector<Hit> hits = detail::column_crossings(s, g);
  const double h = g.voxel;
  const std::int64_t layer = std::int64_t(g.nx) * g.ny;
  std::int64_t unbalanced = 0;
  overlap = 0;
  for (std::size_t a = 0; a < hits.size();) {
    std::size_t b = a;
    int w = 0;
    while (b < hits.size() && hits[b].column == hits[a].column) ++b;
    for (std::size_t c = a; c < b; ++c) {
      w += hits[c].sign;
      if (w < 1 || c + 1 == b) continue;
      // Voxel centres z_k = z0 + (k + 0.5) h within [z_c, z_c+1).
      const double z_in = (hits[c].z - g.origin.z()) / h - 0.5, z_out = (hits[c + 1].z - g.origin.z()) / h - 0.5;
      const int k0 = std::max(0, int(std::ceil(z_in))), k1 = std::min(g.nz - 1, int(std::ceil(z_out)) - 1);
      for (int k = k0; k <= k1; ++k) g.solid[hits[a].column + layer * k] = 1;
      if (w >= 2) overlap += std::max(0, k1 - k0 + 1);
    }
    unbalanced += w != 0;
    a = b;
  }
  // Every edge of a closed surface pairs up and ties are broken consistently, so each ray leaves
  // as often as it enters.
  FLARE_CHECK(unbalanced == 0, unbalanced, " voxel columns enter a closed surface more often than "
              "they leave it (inconsistent crossing count)");
}

}  // namespace

VoxelGrid voxelize(const mesh::Mesh& surface, const VoxelizeOptions& opts, const std::string& source,
                   SurfaceDefects* defects) {
  const double h = opts.voxel;
  FLARE_INPUT_CHECK(h > 0 && std::isfinite(h), source, ": voxel size must be positive (got ", h, ")");
  TriangleSurface s = triangle_surface(surface, source);

  Eigen::AlignedBox3d box;
  for (const Vector3d& v : s.vertices) box.extend(v);
  const Vector3d size = box.sizes();
  FLARE_INPUT_CHECK(size.minCoeff() > 0, source, ": geometry is flat (bounding box ", size.x(), " x ",
                    size.y(), " x ", size.z(), "); give a closed solid");
  SurfaceDefects d = repair_surface(s);
  FLARE_INPUT_CHECK(!s.triangles.empty(), source,
                    ": encloses no volume (every triangle is cancelled by a reversed copy of "
                    "itself); give a closed solid");
  const double volume = s.volume();
  FLARE_INPUT_CHECK(volume > 0 || !d.closed(), source, ": encloses no volume; give a closed solid");

  // Estimate before allocating: interior nodes ~ V/h^3, plus about A/(2h^2) on the surface (exact
  // to leading order for a box; V is approximate for a surface with gaps).
  const double area = s.area();
  auto estimate = [&](double hh) { return volume / (hh * hh * hh) + area / (2 * hh * hh); };
  const double est = estimate(h);
  if (est > double(opts.max_nodes)) {
    double fit = h;
    while (estimate(fit) > 0.95 * double(opts.max_nodes)) fit *= 1.05;
    std::ostringstream os;
    os.precision(3);
    os << source << ": voxel size " << h << " would give about " << std::llround(est) << " nodes (limit "
       << opts.max_nodes << "); use --voxel " << fit << " or larger";
    throw InputError(os.str());
  }
  const double dims[3] = {std::ceil(size.x() / h), std::ceil(size.y() / h), std::ceil(size.z() / h)};
  FLARE_INPUT_CHECK(dims[0] * dims[1] * dims[2] <= double(kMaxGridVoxels), source, ": voxel size ", h,
                    " gives a ", dims[0], " x ", dims[1], " x ", dims[2],
                    " grid (too large for memory); use a larger voxel size");
  VoxelGrid g = VoxelGrid::empty(box.min(), h, std::max(1, int(dims[0])), std::max(1, int(dims[1])),
                                 std::max(1, int(dims[2])));
  if (opts.force_winding_number)
    detail::fill_by_winding_number(s, g, d, source);
  else if (d.closed())
    fill_by_crossings(s, g, d.overlap_voxels);
  else
    detail::fill_open_surface(s, g, d, source);
  if (defects) *defects = d;
  return g;
}

}  // namespace flare::am
