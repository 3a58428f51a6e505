// voxelize_for_nodes (am/voxel_fit.h): the voxel size that gives a wanted node count, inside a
// voxel-size range.
#include <gtest/gtest.h>

#include <cmath>

#include "am/voxel_fit.h"
#include "am/voxelize.h"
#include "tests/am/box_surface.h"
#include "common/error.h"

using namespace flare::am;
using flare::mesh::CellType;
using flare::mesh::Mesh;

namespace {

using flare::am::test::box_surface;

// Nodes of the hex mesh voxel_mesh() makes from the grid.
std::int64_t mesh_nodes(const VoxelGrid& g) { return voxel_mesh(g).num_points(); }

}  // namespace

TEST(VoxelFit, LandsWithinTenPercentOfTheTargetInsideTheRange) {
  // A plate with a thin wall: surface-heavy, so the volume-only guess is off and corrections work.
  const Mesh box = box_surface({0, 0, 0}, {40, 3, 25});
  for (std::int64_t target : {2000, 12000, 40000}) {
    const VoxelFit fit = voxelize_for_nodes(box, target, 0.01, 100, "wall.stl");
    EXPECT_EQ(fit.nodes, mesh_nodes(fit.grid)) << target;
    EXPECT_EQ(fit.grid.voxel, fit.voxel) << target;
    EXPECT_NEAR(double(fit.nodes), double(target), 0.1 * double(target)) << "voxel " << fit.voxel;
  }
}

TEST(VoxelFit, StaysInsideTheVoxelRangeWhenTheTargetIsOutsideIt) {
  const Mesh box = box_surface({0, 0, 0}, {10, 10, 10});
  // 12,000 nodes need a voxel near 0.45; the range forbids it.
  VoxelFit fit = voxelize_for_nodes(box, 12000, 1.0, 2.0, "cube.stl");
  EXPECT_EQ(fit.voxel, 1.0);
  EXPECT_EQ(fit.nodes, 11 * 11 * 11);
  fit = voxelize_for_nodes(box, 12000, 0.1, 0.2, "cube.stl");
  EXPECT_EQ(fit.voxel, 0.2);
  EXPECT_EQ(fit.nodes, 51 * 51 * 51);
}

TEST(VoxelFit, IsDeterministic) {
  const Mesh box = box_surface({0.3, -2, 0}, {7.1, 4.4, 5.9});
  const VoxelFit a = voxelize_for_nodes(box, 5000, 0.05, 5, "b.stl");
  const VoxelFit b = voxelize_for_nodes(box, 5000, 0.05, 5, "b.stl");
  EXPECT_EQ(a.voxel, b.voxel);
  EXPECT_EQ(a.grid.solid, b.grid.solid);
}

TEST(VoxelFit, BadSurfacesAndArgumentsAreInputErrors) {
  const Mesh box = box_surface({0, 0, 0}, {1, 1, 1});
  Mesh flat;
  flat.points.resize(4, 3);
  flat.points << 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0;
  flat.add_cell(CellType::Triangle, {0, 1, 2});
  flat.add_cell(CellType::Triangle, {0, 2, 3});
  EXPECT_THROW(voxelize_for_nodes(flat, 1000, 0.01, 1, "flat.stl"), flare::InputError);
  EXPECT_THROW(voxelize_for_nodes(box, 4, 0.01, 1, "box.stl"), flare::InputError);   // target < 8
  EXPECT_THROW(voxelize_for_nodes(box, 1000, 1, 0.5, "box.stl"), flare::InputError); // empty range
  EXPECT_THROW(voxelize_for_nodes(box, 1000, 0, 1, "box.stl"), flare::InputError);   // voxel 0
}
