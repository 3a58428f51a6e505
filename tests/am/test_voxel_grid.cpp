#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <set>

#include "am/voxel_grid.h"
#include "common/error.h"

using namespace flare::am;
using flare::mesh::CellType;

namespace {

VoxelGrid grid_from(int nx, int ny, int nz, std::initializer_list<std::array<int, 3>> solid,
                    double h = 0.5, Eigen::Vector3d origin = Eigen::Vector3d(1, 2, 3)) {
  VoxelGrid g = VoxelGrid::empty(origin, h, nx, ny, nz);
  for (auto [i, j, k] : solid) g.solid[g.index(i, j, k)] = 1;
  return g;
}

// Signed volume of a VTK hexahedron by its 5-tet split: positive when the node order is VTK's.
double hex_volume(const flare::mesh::Mesh& m, std::int64_t c) {
  const std::int64_t* v = m.cell(c);
  auto P = [&](int i) { return Eigen::Vector3d(m.points.row(v[i]).transpose()); };
  auto tet = [&](int a, int b, int cc, int d) { return (P(b) - P(a)).cross(P(cc) - P(a)).dot(P(d) - P(a)) / 6; };
  return tet(0, 1, 3, 4) + tet(1, 2, 3, 6) + tet(1, 4, 5, 6) + tet(3, 4, 6, 7) + tet(1, 3, 4, 6);
}

}  // namespace

TEST(VoxelMesh, SingleVoxelIsOneHexOnThePlate) {
  VoxelGrid g = grid_from(3, 3, 3, {{1, 1, 1}});
  flare::mesh::Mesh m = voxel_mesh(g);
  ASSERT_EQ(m.num_points(), 8);
  ASSERT_EQ(m.num_cells(), 1);
  EXPECT_EQ(m.cell_type(0), CellType::Hexahedron);
  EXPECT_NEAR(hex_volume(m, 0), 0.125, 1e-12);
  EXPECT_DOUBLE_EQ(m.points.col(2).minCoeff(), 0.0);
  EXPECT_DOUBLE_EQ(m.points.col(2).maxCoeff(), 0.5);
  EXPECT_DOUBLE_EQ(m.points.col(0).minCoeff(), 1.5);  // x keeps the grid position
  EXPECT_DOUBLE_EQ(m.field_data.get("voxel_size", "test").get(0), 0.5);
  m.validate("single voxel");
}

TEST(VoxelMesh, BlockSharesNodesAndHasPositiveVolumes) {
  VoxelGrid g = VoxelGrid::empty(Eigen::Vector3d::Zero(), 1.0, 4, 3, 2);
  std::fill(g.solid.begin(), g.solid.end(), 1);
  flare::mesh::Mesh m = voxel_mesh(g);
  EXPECT_EQ(m.num_points(), 5 * 4 * 3);
  EXPECT_EQ(m.num_cells(), 24);
  double total = 0;
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    double v = hex_volume(m, c);
    EXPECT_NEAR(v, 1.0, 1e-12) << "cell " << c;
    total += v;
  }
  EXPECT_NEAR(total, 24.0, 1e-9);
  // Each interior node is shared by 8 cells: count incidences of the centre nodes.
  std::vector<int> uses(std::size_t(m.num_points()), 0);
  for (std::int64_t v : m.connectivity) ++uses[std::size_t(v)];
  EXPECT_EQ(*std::max_element(uses.begin(), uses.end()), 8);
  const auto& ijk = m.cell_data.get("voxel_ijk", "test");
  EXPECT_EQ(ijk.components(), 3);
  EXPECT_EQ(ijk.get(23, 0), 3);
  EXPECT_EQ(ijk.get(23, 2), 1);
}

TEST(VoxelMesh, LShapeCounts) {
  // Two voxels side by side on the plate and one on top of the first: 12 + 4 nodes.
  VoxelGrid g = grid_from(2, 1, 2, {{0, 0, 0}, {1, 0, 0}, {0, 0, 1}}, 1.0);
  flare::mesh::Mesh m = voxel_mesh(g);
  EXPECT_EQ(m.num_cells(), 3);
  EXPECT_EQ(m.num_points(), 16);
  EXPECT_EQ(g.count_nodes(), 16);
}

TEST(VoxelMesh, PlateIsTheLowestSolidLayer) {
  VoxelGrid g = grid_from(2, 2, 5, {{0, 0, 2}, {0, 0, 3}});
  flare::mesh::Mesh m = voxel_mesh(g);
  EXPECT_EQ(m.num_cells(), 2);
  EXPECT_DOUBLE_EQ(m.points.col(2).minCoeff(), 0.0);
  EXPECT_DOUBLE_EQ(m.points.col(2).maxCoeff(), 1.0);
}

TEST(VoxelMesh, FloatingIslandsAreDroppedAndReported) {
  // Column on the plate; a voxel touching it only along an edge (a hinge) and a free-floating one.
  VoxelGrid g = grid_from(4, 4, 4, {{0, 0, 0}, {0, 0, 1}, {1, 1, 2}, {3, 3, 3}});
  IslandReport r;
  flare::mesh::Mesh m = voxel_mesh(g, &r);
  EXPECT_EQ(r.components, 3);
  EXPECT_EQ(r.dropped_islands, 2);
  EXPECT_EQ(r.dropped_voxels, 2);
  EXPECT_EQ(m.num_cells(), 2);
  EXPECT_EQ(m.num_points(), 12);
}

TEST(VoxelMesh, TwoPartsOnThePlateAreBothKept) {
  VoxelGrid g = grid_from(3, 1, 2, {{0, 0, 0}, {2, 0, 0}, {2, 0, 1}});
  IslandReport r;
  flare::mesh::Mesh m = voxel_mesh(g, &r);
  EXPECT_EQ(r.components, 2);
  EXPECT_EQ(r.dropped_islands, 0);
  EXPECT_EQ(m.num_cells(), 3);
}

TEST(VoxelGrid, KeepLargestComponentDropsTheSmallerOnes) {
  // An L of 3 voxels, two single voxels apart from it, and one touching it only along edges.
  VoxelGrid g = grid_from(5, 2, 2, {{2, 0, 0}, {2, 0, 1}, {2, 1, 0}, {0, 0, 0}, {4, 0, 0}, {3, 1, 1}});
  IslandReport r = keep_largest_component(g);
  EXPECT_EQ(r.components, 4);
  EXPECT_EQ(r.dropped_islands, 3);
  EXPECT_EQ(r.dropped_voxels, 3);
  EXPECT_EQ(g.count_solid(), 3);
  EXPECT_TRUE(g.at(2, 0, 0) && g.at(2, 0, 1) && g.at(2, 1, 0));
  IslandReport again = keep_largest_component(g);
  EXPECT_EQ(again.components, 1);
  EXPECT_EQ(again.dropped_voxels, 0);
}

// A 7x7x7 block: a lone empty voxel inside is a pinhole (filled); an enclosed 3x3x3 void is
// larger than the limit (kept); a pocket that reaches the grid's boundary is open (kept).
TEST(VoxelGrid, FillPinholesFillsOnlySmallEnclosedVoids) {
  VoxelGrid g = VoxelGrid::empty(Eigen::Vector3d::Zero(), 1.0, 7, 7, 7);
  std::fill(g.solid.begin(), g.solid.end(), 1);
  auto clear = [&](int i0, int i1, int j0, int j1, int k0, int k1) {
    for (int k = k0; k <= k1; ++k)
      for (int j = j0; j <= j1; ++j)
        for (int i = i0; i <= i1; ++i) g.solid[g.index(i, j, k)] = 0;
  };
  clear(1, 1, 1, 1, 1, 1);  // pinhole
  clear(3, 5, 3, 5, 3, 5);  // enclosed, 27 voxels
  clear(1, 1, 5, 6, 5, 5);  // open to the boundary at j = 6
  const std::int64_t solid = g.count_solid();
  EXPECT_EQ(fill_pinholes(g, 8), 1);
  EXPECT_TRUE(g.at(1, 1, 1));
  EXPECT_FALSE(g.at(4, 4, 4));
  EXPECT_FALSE(g.at(1, 5, 5));
  EXPECT_EQ(g.count_solid(), solid + 1);
  EXPECT_EQ(fill_pinholes(g, 27), 27);  // the void too, once it is within the limit
  EXPECT_FALSE(g.at(1, 6, 5));
}

TEST(VoxelMesh, EmptyGridIsAnInputError) {
  VoxelGrid g = VoxelGrid::empty(Eigen::Vector3d::Zero(), 1.0, 3, 3, 3);
  EXPECT_THROW(voxel_mesh(g), flare::InputError);
}

TEST(VoxelMesh, CountNodesMatchesMeshOnRandomMasks) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    VoxelGrid g = VoxelGrid::empty(Eigen::Vector3d::Zero(), 1.0, 7, 6, 5);
    unsigned s = seed;
    for (auto& v : g.solid) {
      s = s * 1103515245u + 12345u;
      v = (s >> 16) % 3 != 0;
    }
    keep_plate_connected(g);
    flare::mesh::Mesh m = voxel_mesh(g);
    EXPECT_EQ(m.num_points(), g.count_nodes()) << "seed " << seed;
    EXPECT_EQ(m.num_cells(), g.count_solid()) << "seed " << seed;
    // Islands are gone, but several plate-touching components may remain: all must be on k = 0.
    std::vector<std::int32_t> labels;
    int n = label_components(g, labels);
    std::set<std::int32_t> on_plate;
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i)
        if (labels[g.index(i, j, 0)] >= 0) on_plate.insert(labels[g.index(i, j, 0)]);
    EXPECT_EQ(int(on_plate.size()), n) << "seed " << seed;
    m.validate("random mask");
  }
}
