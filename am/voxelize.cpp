#include "am/voxelize.h"

#include <omp.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "common/error.h"

namespace flare::am {

using Eigen::Vector3d;
using mesh::CellType;

namespace {

// Grids above this many voxels would need more than a few GB for the flags alone.
constexpr std::int64_t kMaxGridVoxels = 2'000'000'000;

struct CoordHash {
  std::size_t operator()(const std::array<double, 3>& p) const {
    std::size_t h = 0;
    for (double v : p) h = h * 0x9E3779B97F4A7C15ull ^ std::hash<double>()(v);
    return h;
  }
};

std::string at_position(const Vector3d& p) {
  std::ostringstream os;
  os << "(" << p.x() << ", " << p.y() << ", " << p.z() << ")";
  return os.str();
}

}  // namespace

double TriangleSurface::volume() const {
  double v = 0;
  for (const auto& t : triangles) v += vertices[t[0]].dot(vertices[t[1]].cross(vertices[t[2]]));
  return std::abs(v) / 6;
}

double TriangleSurface::area() const {
  double a = 0;
  for (const auto& t : triangles)
    a += (vertices[t[1]] - vertices[t[0]]).cross(vertices[t[2]] - vertices[t[0]]).norm() / 2;
  return a;
}

TriangleSurface triangle_surface(const mesh::Mesh& m, const std::string& source) {
  TriangleSurface s;
  std::unordered_map<std::array<double, 3>, std::int32_t, CoordHash> weld;
  std::vector<std::int32_t> id(std::size_t(m.num_points()), -1);
  auto vertex = [&](std::int64_t p) {
    if (id[p] < 0) {
      std::array<double, 3> key{m.points(p, 0), m.points(p, 1), m.points(p, 2)};
      auto [it, fresh] = weld.try_emplace(key, std::int32_t(s.vertices.size()));
      if (fresh) s.vertices.emplace_back(key[0], key[1], key[2]);
      id[p] = it->second;
    }
    return id[p];
  };
  auto add = [&](std::int64_t a, std::int64_t b, std::int64_t c) {
    std::array<std::int32_t, 3> t{vertex(a), vertex(b), vertex(c)};
    // Repeated vertices (after welding) make a zero-area sliver with no edges of its own.
    if (t[0] != t[1] && t[1] != t[2] && t[0] != t[2]) s.triangles.push_back(t);
  };
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    const std::int64_t* v = m.cell(c);
    const std::int64_t n = m.cell_size(c);
    const CellType type = m.cell_type(c);
    FLARE_INPUT_CHECK(mesh::cell_dimension(type) < 3, source, ": has volume cells (",
                      mesh::cell_type_name(type), "); voxelize takes a closed surface such as an STL");
    switch (type) {
      case CellType::Triangle: case CellType::Quad: case CellType::Polygon:
        for (std::int64_t i = 1; i + 1 < n; ++i) add(v[0], v[i], v[i + 1]);
        break;
      case CellType::Pixel:  // VTK pixel order is 0 1 3 2 around the square
        add(v[0], v[1], v[3]);
        add(v[0], v[3], v[2]);
        break;
      case CellType::TriangleStrip:
        for (std::int64_t i = 0; i + 2 < n; ++i)
          i % 2 == 0 ? add(v[i], v[i + 1], v[i + 2]) : add(v[i + 1], v[i], v[i + 2]);
        break;
      default:
        break;  // vertices and lines carry no surface
    }
  }
  FLARE_INPUT_CHECK(!s.triangles.empty(), source,
                    ": no surface triangles (empty or degenerate geometry); give a closed surface mesh");
  return s;
}

void check_closed(const TriangleSurface& s, const std::string& source) {
  // Each directed edge as (low, high, +1 when low->high); sorted, an edge's records are adjacent.
  struct Edge {
    std::int32_t lo, hi;
    int dir;
  };
  std::vector<Edge> edges;
  edges.reserve(s.triangles.size() * 3);
  for (const auto& t : s.triangles)
    for (int e = 0; e < 3; ++e) {
      std::int32_t a = t[e], b = t[(e + 1) % 3];
      edges.push_back(a < b ? Edge{a, b, 1} : Edge{b, a, -1});
    }
  std::sort(edges.begin(), edges.end(),
            [](const Edge& x, const Edge& y) { return x.lo != y.lo ? x.lo < y.lo : x.hi < y.hi; });
  std::int64_t open = 0, nonmanifold = 0, flipped = 0;
  Vector3d example;
  for (std::size_t i = 0; i < edges.size();) {
    std::size_t j = i;
    int sum = 0;
    while (j < edges.size() && edges[j].lo == edges[i].lo && edges[j].hi == edges[i].hi) sum += edges[j++].dir;
    const std::size_t uses = j - i;
    bool bad = true;
    if (uses == 1) ++open;
    else if (uses > 2) ++nonmanifold;
    else if (sum != 0) ++flipped;
    else bad = false;
    if (bad && open + nonmanifold + flipped == 1)
      example = (s.vertices[edges[i].lo] + s.vertices[edges[i].hi]) / 2;
    i = j;
  }
  FLARE_INPUT_CHECK(open == 0, source, ": surface is not closed: ", open,
                    " edges belong to only one triangle (first near ", at_position(example),
                    "); repair the STL into a watertight solid (e.g. MeshLab, admesh) and retry");
  FLARE_INPUT_CHECK(nonmanifold == 0, source, ": surface is not manifold: ", nonmanifold,
                    " edges are shared by more than two triangles (first near ", at_position(example),
                    "); repair the STL into a single watertight solid and retry");
  FLARE_INPUT_CHECK(flipped == 0, source, ": inconsistent triangle orientation: ", flipped,
                    " edges are traversed the same way by both triangles (first near ",
                    at_position(example), "); fix the normals (e.g. admesh --fix-all) and retry");
}

namespace {

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

VoxelGrid voxelize(const mesh::Mesh& surface, const VoxelizeOptions& opts, const std::string& source) {
  const double h = opts.voxel;
  FLARE_INPUT_CHECK(h > 0 && std::isfinite(h), source, ": voxel size must be positive (got ", h, ")");
  TriangleSurface s = triangle_surface(surface, source);
  check_closed(s, source);

  Eigen::AlignedBox3d box;
  for (const Vector3d& v : s.vertices) box.extend(v);
  const Vector3d size = box.sizes();
  FLARE_INPUT_CHECK(size.minCoeff() > 0, source, ": geometry is flat (bounding box ", size.x(), " x ",
                    size.y(), " x ", size.z(), "); give a closed solid");
  const double volume = s.volume();
  FLARE_INPUT_CHECK(volume > 0, source, ": encloses no volume; give a closed solid");

  // Estimate before allocating: interior nodes ~ V/h^3, plus about A/(2h^2) on the surface (exact
  // to leading order for a box).
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

  // Crossings (column, z) of the +z rays through the voxel-centre columns.
  struct Hit {
    std::int64_t column;
    double z;
  };
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
      if (area2 < 0) {           // make it counter-clockwise seen from +z
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
          hits.push_back({i + std::int64_t(g.nx) * j, z});
        }
    }
  }
  std::vector<Hit> hits;
  for (auto& v : per_thread) hits.insert(hits.end(), v.begin(), v.end());
  std::sort(hits.begin(), hits.end(),
            [](const Hit& a, const Hit& b) { return a.column != b.column ? a.column < b.column : a.z < b.z; });

  // Inside between crossings 1-2, 3-4, ... of each column (sorted by z).
  const std::int64_t layer = std::int64_t(g.nx) * g.ny;
  std::int64_t odd_columns = 0;
  for (std::size_t a = 0; a < hits.size();) {
    std::size_t b = a;
    while (b < hits.size() && hits[b].column == hits[a].column) ++b;
    if ((b - a) % 2 != 0) ++odd_columns;
    for (std::size_t c = a; c + 1 < b; c += 2) {
      // Voxel centres z_k = z0 + (k + 0.5) h within [z_in, z_out).
      const double z_in = (hits[c].z - g.origin.z()) / h - 0.5, z_out = (hits[c + 1].z - g.origin.z()) / h - 0.5;
      int k0 = std::max(0, int(std::ceil(z_in))), k1 = std::min(g.nz - 1, int(std::ceil(z_out)) - 1);
      for (int k = k0; k <= k1; ++k) g.solid[hits[a].column + layer * k] = 1;
    }
    a = b;
  }
  // A closed surface crosses every ray an even number of times; odd counts mean the surface
  // intersects itself in a way the closedness check cannot see.
  FLARE_INPUT_CHECK(odd_columns == 0, source, ": ", odd_columns,
                    " voxel columns cross the surface an odd number of times (self-intersecting "
                    "surface?); repair the STL and retry");
  return g;
}

}  // namespace flare::am
