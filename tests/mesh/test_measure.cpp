// Cell measures against closed forms, and their invariances (orientation, affine maps).
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "mesh/grid.h"
#include "mesh/measure.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;

namespace {

Mesh one_cell(CellType t, std::vector<Eigen::RowVector3d> pts) {
  Mesh m;
  m.points.resize(std::int64_t(pts.size()), 3);
  std::vector<std::int64_t> v;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    m.points.row(std::int64_t(i)) = pts[i];
    v.push_back(std::int64_t(i));
  }
  m.add_cell(t, v.data(), std::int64_t(v.size()));
  return m;
}

using P = Eigen::RowVector3d;
const std::vector<P> k_cube = {P(0, 0, 0), P(1, 0, 0), P(1, 1, 0), P(0, 1, 0),
                               P(0, 0, 1), P(1, 0, 1), P(1, 1, 1), P(0, 1, 1)};

std::vector<P> midpoints(const std::vector<P>& corners,
                         const std::vector<std::pair<int, int>>& edges) {
  std::vector<P> all = corners;
  for (auto [a, b] : edges) all.push_back(0.5 * (corners[a] + corners[b]));
  return all;
}

TEST(Measure, VolumesOfUnitCells) {
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::Tetra, {P(0, 0, 0), P(1, 0, 0), P(0, 1, 0), P(0, 0, 1)}), 0),
      1.0 / 6);
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::Hexahedron, k_cube), 0), 1.0);
  // Voxel order is lexicographic: x fastest, then y, then z.
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::Voxel, {P(0, 0, 0), P(2, 0, 0), P(0, 1, 0), P(2, 1, 0),
                                              P(0, 0, 1), P(2, 0, 1), P(0, 1, 1), P(2, 1, 1)}),
                   0),
      2.0);
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::Wedge, {P(0, 0, 0), P(1, 0, 0), P(0, 1, 0),
                                                           P(0, 0, 2), P(1, 0, 2), P(0, 1, 2)}),
                                0),
                   1.0);
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::Pyramid, {P(0, 0, 0), P(1, 0, 0), P(1, 1, 0),
                                                             P(0, 1, 0), P(0.3, 0.2, 3)}),
                                0),
                   1.0);
}

TEST(Measure, QuadraticCellsUseTheirCorners) {
  const std::vector<P> tet = {P(0, 0, 0), P(2, 0, 0), P(0, 2, 0), P(0, 0, 2)};
  const auto qtet = midpoints(tet, {{0, 1}, {1, 2}, {2, 0}, {0, 3}, {1, 3}, {2, 3}});
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::QuadraticTetra, qtet), 0), 8.0 / 6);
  const auto qhex = midpoints(k_cube, {{0, 1},
                                       {1, 2},
                                       {2, 3},
                                       {3, 0},
                                       {4, 5},
                                       {5, 6},
                                       {6, 7},
                                       {7, 4},
                                       {0, 4},
                                       {1, 5},
                                       {2, 6},
                                       {3, 7}});
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::QuadraticHexahedron, qhex), 0), 1.0);
  const auto qtri = midpoints({P(0, 0, 0), P(2, 0, 0), P(0, 1, 0)}, {{0, 1}, {1, 2}, {2, 0}});
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::QuadraticTriangle, qtri), 0), 1.0);
  const std::vector<P> quad = {P(0, 0, 0), P(3, 0, 0), P(3, 1, 0), P(0, 1, 0)};
  const auto qquad = midpoints(quad, {{0, 1}, {1, 2}, {2, 3}, {3, 0}});
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::QuadraticQuad, qquad), 0), 3.0);
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::QuadraticEdge, {P(0, 0, 0), P(3, 4, 0), P(1.5, 2, 0)}), 0),
      5.0);
}

TEST(Measure, AreasAndLengths) {
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::Triangle, {P(0, 0, 0), P(2, 0, 0), P(0, 0, 3)}), 0), 3.0);
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::Quad, {P(0, 0, 0), P(2, 0, 0), P(2, 0, 3), P(0, 0, 3)}), 0),
      6.0);
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::Pixel, {P(0, 0, 0), P(2, 0, 0), P(0, 3, 0), P(2, 3, 0)}), 0),
      6.0);
  std::vector<P> hexagon;
  for (int i = 0; i < 6; ++i)
    hexagon.emplace_back(std::cos(i * std::numbers::pi / 3), std::sin(i * std::numbers::pi / 3), 5);
  EXPECT_NEAR(cell_measure(one_cell(CellType::Polygon, hexagon), 0), 1.5 * std::sqrt(3.0), 1e-14);
  // Strip 0-1-2, 1-2-3, 2-3-4 over a 2 × 1 rectangle.
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::TriangleStrip,
                            {P(0, 0, 0), P(0, 1, 0), P(1, 0, 0), P(1, 1, 0), P(2, 0, 0)}),
                   0),
      1.5);
  EXPECT_DOUBLE_EQ(cell_measure(one_cell(CellType::Line, {P(1, 1, 1), P(4, 5, 1)}), 0), 5.0);
  EXPECT_DOUBLE_EQ(
      cell_measure(one_cell(CellType::PolyLine, {P(0, 0, 0), P(3, 4, 0), P(3, 4, 2)}), 0), 7.0);
  EXPECT_EQ(cell_measure(one_cell(CellType::Vertex, {P(1, 2, 3)}), 0), 0.0);
}

TEST(Measure, GridVolumeAndOrientationDoesNotMatter) {
  Mesh g = hex_grid(3, 4, 5, 0.5);
  EXPECT_NEAR(mesh_volume(g), 3 * 4 * 5 * 0.125, 1e-12);
  EXPECT_EQ(mesh_area(g), 0.0);
  // Mirror in x: every hexahedron turns inside out, volumes must stay positive.
  g.points.col(0) *= -1;
  EXPECT_NEAR(mesh_volume(g), 7.5, 1e-12);
}

TEST(Measure, AffineMapScalesVolumesByItsDeterminant) {
  Eigen::Matrix3d a;
  a << 1.2, 0.3, -0.1, 0.0, 0.9, 0.4, 0.2, -0.3, 1.1;
  const std::vector<std::pair<CellType, std::vector<P>>> cells = {
      {CellType::Tetra, {P(0, 0, 0), P(1, 0, 0), P(0, 1, 0), P(0, 0, 1)}},
      {CellType::Hexahedron, k_cube},
      {CellType::Wedge, {P(0, 0, 0), P(1, 0, 0), P(0, 1, 0), P(0, 0, 2), P(1, 0, 2), P(0, 1, 2)}},
      {CellType::Pyramid, {P(0, 0, 0), P(1, 0, 0), P(1, 1, 0), P(0, 1, 0), P(0.5, 0.5, 1)}}};
  for (const auto& [type, pts] : cells) {
    Mesh m = one_cell(type, pts);
    const double before = cell_measure(m, 0);
    m.points = (m.points * a.transpose()).eval();
    EXPECT_NEAR(cell_measure(m, 0), before * std::abs(a.determinant()), 1e-12)
        << cell_type_name(type);
  }
}

TEST(Measure, VolumeAndAreaSumOnlyTheirDimension) {
  Mesh m = one_cell(CellType::Hexahedron, k_cube);
  const std::int64_t tri[3] = {0, 1, 2};
  m.add_cell(CellType::Triangle, tri, 3);  // half the cube's bottom face
  EXPECT_DOUBLE_EQ(mesh_volume(m), 1.0);
  EXPECT_DOUBLE_EQ(mesh_area(m), 0.5);
}

TEST(Measure, MedianEdgeLengthIsTheVoxelSizeAndUsesEachTypesEdges) {
  Mesh g = hex_grid(3, 4, 5, 0.5);
  EXPECT_DOUBLE_EQ(median_edge_length(g), 0.5);
  EXPECT_DOUBLE_EQ(median_edge_length(g, 1), 0.5);  // sampled: one cell
  // A cube stretched 3x in x: 4 edges of 3 and 8 of 1, so the median is 1 (a table that took
  // face diagonals or consecutive vertices 3-4 would report more).
  Mesh box = one_cell(CellType::Hexahedron, k_cube);
  box.points.col(0) *= 3.0;
  EXPECT_DOUBLE_EQ(median_edge_length(box), 1.0);
  // Unit tetrahedron: three edges of 1, three of sqrt(2).
  EXPECT_DOUBLE_EQ(
      median_edge_length(one_cell(CellType::Tetra, {P(0, 0, 0), P(1, 0, 0), P(0, 1, 0), P(0, 0, 1)})),
      1.0);
  g.points.col(2) *= 4.0;  // z edges 2.0 are a third of the edges: the median stays 0.5
  EXPECT_DOUBLE_EQ(median_edge_length(g), 0.5);
  EXPECT_EQ(median_edge_length(Mesh{}), 0.0);
}

// The sample's lengths are gathered in parallel: the lower median of every edge of every
// stride-th cell, exactly as a serial pass computes it, on any thread count, with mixed cell
// types (a hex block, a tetrahedron, a polyline, a polygon) and lengths that differ everywhere.
TEST(Measure, MedianEdgeLengthSampledInParallelEqualsASerialPass) {
  Mesh m = hex_grid(9, 7, 5, 1.0);
  std::srand(7);
  for (Eigen::Index i = 0; i < m.points.rows(); ++i)
    for (int k = 0; k < 3; ++k) m.points(i, k) += 0.3 * (std::rand() / double(RAND_MAX) - 0.5);
  const std::int64_t tet[4] = {0, 1, 10, 80}, line[3] = {2, 3, 4}, poly[5] = {5, 6, 16, 15, 14};
  m.add_cell(CellType::Tetra, tet, 4);
  m.add_cell(CellType::PolyLine, line, 3);
  m.add_cell(CellType::Polygon, poly, 5);
  auto serial = [&](std::int64_t stride) {
    std::vector<double> len;
    auto d = [&](std::int64_t a, std::int64_t b) { return (m.points.row(a) - m.points.row(b)).norm(); };
    const int hex[12][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6},
                            {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
    const int tet_edges[6][2] = {{0, 1}, {1, 2}, {2, 0}, {0, 3}, {1, 3}, {2, 3}};
    for (std::int64_t c = 0; c < m.num_cells(); c += stride) {
      const std::int64_t* v = m.cell(c);
      const std::int64_t n = m.cell_size(c);
      switch (m.cell_type(c)) {
        case CellType::Hexahedron: for (auto& e : hex) len.push_back(d(v[e[0]], v[e[1]])); break;
        case CellType::Tetra: for (auto& e : tet_edges) len.push_back(d(v[e[0]], v[e[1]])); break;
        case CellType::PolyLine: for (int i = 0; i + 1 < n; ++i) len.push_back(d(v[i], v[i + 1])); break;
        case CellType::Polygon: for (int i = 0; i < n; ++i) len.push_back(d(v[i], v[(i + 1) % n])); break;
        default: ADD_FAILURE() << "unexpected cell type";
      }
    }
    std::sort(len.begin(), len.end());
    return len[(len.size() - 1) / 2];
  };
  const std::int64_t cells = m.num_cells();  // 318
  for (int threads : {1, 3, 8}) {
    omp_set_num_threads(threads);
    EXPECT_EQ(median_edge_length(m), serial(1)) << threads << " threads";
    EXPECT_EQ(median_edge_length(m, 100), serial((cells + 99) / 100)) << threads << " threads";  // stride 4
    EXPECT_EQ(median_edge_length(m, 1), serial(cells)) << threads << " threads";  // the first cell only
  }
}

}  // namespace
