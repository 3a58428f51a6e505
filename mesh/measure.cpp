// Volumes by decomposition into tetrahedra, areas by vector area. Signed tet volumes are summed
// per cell and the absolute value taken at the end, so a cell's measure does not depend on its
// orientation, and non-planar hexahedron faces are handled consistently by the fixed split.
#include "mesh/measure.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

namespace flare::mesh {

namespace {

using Vec = Eigen::Vector3d;

Vec pt(const Mesh& m, std::int64_t i) { return m.points.row(i).transpose(); }

double signed_tet(const Vec& a, const Vec& b, const Vec& c, const Vec& d) {
  return (b - a).dot((c - a).cross(d - a)) / 6.0;
}

// Hexahedron in VTK order (bottom 0-3, top 4-7, counter-clockwise): six tets around the diagonal
// 0-6, which splits each face along a diagonal shared by its two neighbouring tets.
double hex_volume(const Vec p[8]) {
  static const int tets[6][4] = {{0, 1, 2, 6}, {0, 2, 3, 6}, {0, 3, 7, 6},
                                 {0, 7, 4, 6}, {0, 4, 5, 6}, {0, 5, 1, 6}};
  double v = 0;
  for (const auto& t : tets) v += signed_tet(p[t[0]], p[t[1]], p[t[2]], p[t[3]]);
  return std::abs(v);
}

// Vector area of a closed polygon: exact for planar polygons, diagonal-independent for quads.
double polygon_area(const Mesh& m, const std::int64_t* v, std::int64_t n) {
  Vec s = Vec::Zero();
  for (std::int64_t i = 0; i < n; ++i) s += pt(m, v[i]).cross(pt(m, v[(i + 1) % n]));
  return 0.5 * s.norm();
}

}  // namespace

double cell_measure(const Mesh& m, std::int64_t c) {
  const std::int64_t* v = m.cell(c);
  const std::int64_t n = m.cell_size(c);
  switch (m.cell_type(c)) {
    case CellType::Vertex:
    case CellType::PolyVertex:
      return 0.0;
    case CellType::Line:
    case CellType::QuadraticEdge:  // by its end points
      return (pt(m, v[1]) - pt(m, v[0])).norm();
    case CellType::PolyLine: {
      double len = 0;
      for (std::int64_t i = 0; i + 1 < n; ++i) len += (pt(m, v[i + 1]) - pt(m, v[i])).norm();
      return len;
    }
    case CellType::Triangle:
    case CellType::QuadraticTriangle:  // corners 0-2
      return polygon_area(m, v, 3);
    case CellType::Quad:
    case CellType::QuadraticQuad:  // corners 0-3
    case CellType::Polygon:
      return polygon_area(m, v, m.cell_type(c) == CellType::Polygon ? n : 4);
    case CellType::Pixel: {
      const std::int64_t q[4] = {v[0], v[1], v[3], v[2]};  // pixel order is lexicographic
      return polygon_area(m, q, 4);
    }
    case CellType::TriangleStrip: {
      double a = 0;
      for (std::int64_t i = 0; i + 2 < n; ++i) a += polygon_area(m, v + i, 3);
      return a;
    }
    case CellType::Tetra:
    case CellType::QuadraticTetra:  // corners 0-3
      return std::abs(signed_tet(pt(m, v[0]), pt(m, v[1]), pt(m, v[2]), pt(m, v[3])));
    case CellType::Hexahedron:
    case CellType::QuadraticHexahedron: {  // corners 0-7
      Vec p[8];
      for (int i = 0; i < 8; ++i) p[i] = pt(m, v[i]);
      return hex_volume(p);
    }
    case CellType::Voxel: {
      static const int to_hex[8] = {0, 1, 3, 2, 4, 5, 7, 6};  // voxel order is lexicographic
      Vec p[8];
      for (int i = 0; i < 8; ++i) p[i] = pt(m, v[to_hex[i]]);
      return hex_volume(p);
    }
    case CellType::Wedge: {
      // Triangles 0-1-2 (bottom) and 3-4-5 (top): three tets.
      Vec p[6];
      for (int i = 0; i < 6; ++i) p[i] = pt(m, v[i]);
      return std::abs(signed_tet(p[0], p[1], p[2], p[3]) + signed_tet(p[1], p[2], p[3], p[4]) +
                      signed_tet(p[2], p[3], p[4], p[5]));
    }
    case CellType::Pyramid: {
      // Quad base 0-3 and apex 4: two tets.
      Vec p[5];
      for (int i = 0; i < 5; ++i) p[i] = pt(m, v[i]);
      return std::abs(signed_tet(p[0], p[1], p[2], p[4]) + signed_tet(p[0], p[2], p[3], p[4]));
    }
  }
  return 0.0;
}

double mesh_volume(const Mesh& m) {
  double v = 0;
#pragma omp parallel for reduction(+ : v) schedule(static)
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    if (cell_dimension(m.cell_type(c)) == 3) v += cell_measure(m, c);
  return v;
}

double mesh_area(const Mesh& m) {
  double a = 0;
#pragma omp parallel for reduction(+ : a) schedule(static)
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    if (cell_dimension(m.cell_type(c)) == 2) a += cell_measure(m, c);
  return a;
}

namespace {

using Edge = std::pair<int, int>;

// Corner-to-corner edges of each fixed-size type in VTK's vertex order.
const std::vector<Edge>& edge_table(CellType t) {
  static const std::vector<Edge> none, line{{0, 1}}, tri{{0, 1}, {1, 2}, {2, 0}},
      quad{{0, 1}, {1, 2}, {2, 3}, {3, 0}}, pixel{{0, 1}, {1, 3}, {3, 2}, {2, 0}},
      tet{{0, 1}, {1, 2}, {2, 0}, {0, 3}, {1, 3}, {2, 3}},
      hex{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6}, {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}},
      voxel{{0, 1}, {1, 3}, {3, 2}, {2, 0}, {4, 5}, {5, 7}, {7, 6}, {6, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}},
      wedge{{0, 1}, {1, 2}, {2, 0}, {3, 4}, {4, 5}, {5, 3}, {0, 3}, {1, 4}, {2, 5}},
      pyramid{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {0, 4}, {1, 4}, {2, 4}, {3, 4}};
  switch (t) {
    case CellType::Line:
    case CellType::QuadraticEdge: return line;
    case CellType::Triangle:
    case CellType::QuadraticTriangle: return tri;
    case CellType::Quad:
    case CellType::QuadraticQuad: return quad;
    case CellType::Pixel: return pixel;
    case CellType::Tetra:
    case CellType::QuadraticTetra: return tet;
    case CellType::Hexahedron:
    case CellType::QuadraticHexahedron: return hex;
    case CellType::Voxel: return voxel;
    case CellType::Wedge: return wedge;
    case CellType::Pyramid: return pyramid;
    default: return none;
  }
}

// Calls f(a, b) with the two vertices of each edge of cell c: corner-to-corner edges of
// fixed-size types, the segments of polylines and strips, and the closed ring of a polygon.
template <class F>
void for_each_edge(const Mesh& m, std::int64_t c, F&& f) {
  const std::int64_t* v = m.cell(c);
  const std::int64_t n = m.cell_size(c);
  const CellType t = m.cell_type(c);
  if (t == CellType::PolyLine || t == CellType::TriangleStrip || t == CellType::Polygon) {
    const std::int64_t closing = t == CellType::Polygon ? n : n - 1;
    for (std::int64_t i = 0; i < closing; ++i) f(v[i], v[(i + 1) % n]);
    return;
  }
  for (const auto& [a, b] : edge_table(t))
    if (a < n && b < n) f(v[a], v[b]);
}
}  // namespace

double median_edge_length(const Mesh& m, std::int64_t max_cells) {
  const std::int64_t cells = m.num_cells();
  if (cells == 0) return 0.0;
  const std::int64_t stride = std::max<std::int64_t>(1, (cells + max_cells - 1) / std::max<std::int64_t>(1, max_cells));
  const std::int64_t sampled = (cells + stride - 1) / stride;
  // Count, prefix-sum, fill in parallel into one uninitialised array: at a million cells the
  // sample holds 2.3M lengths, and growing a vector serially cost `predict` 0.2 s (2 cores).
  std::vector<std::int64_t> first(std::size_t(sampled) + 1, 0);
#pragma omp parallel for schedule(static)
  for (std::int64_t s = 0; s < sampled; ++s) {
    std::int64_t k = 0;
    for_each_edge(m, s * stride, [&](std::int64_t, std::int64_t) { ++k; });
    first[std::size_t(s) + 1] = k;
  }
  std::partial_sum(first.begin(), first.end(), first.begin());
  const std::int64_t total = first.back();
  if (total == 0) return 0.0;
  const auto len = std::make_unique_for_overwrite<double[]>(std::size_t(total));
#pragma omp parallel for schedule(static)
  for (std::int64_t s = 0; s < sampled; ++s) {
    double* out = len.get() + first[std::size_t(s)];
    for_each_edge(m, s * stride,
                  [&](std::int64_t a, std::int64_t b) { *out++ = (pt(m, b) - pt(m, a)).norm(); });
  }
  // Lower median: an actual edge length, so a uniform voxel mesh returns exactly its voxel size.
  // The same multiset of lengths as a serial pass, so the same value.
  double* mid = len.get() + (total - 1) / 2;
  std::nth_element(len.get(), mid, len.get() + total);
  return *mid;
}

}  // namespace flare::mesh
