// The coarse solve that `predict --coarse-solve` sets beside the surrogate (am/coarse_solve.h):
// the grid read back from a voxel mesh, the majority coarsening, the sampling at the fine nodes,
// the solve itself against the full one, and the inverse-variance combination.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "am/coarse_solve.h"
#include "common/error.h"
#include "tests/am/voxel_part.h"

using namespace flare::am;
using flare::am::test::voxel_part;

namespace {

double rel_l2(const Eigen::MatrixX3d& a, const Eigen::MatrixX3d& b) { return (a - b).norm() / b.norm(); }

Eigen::MatrixX3d field_of(const flare::mesh::Mesh& m, const std::string& name) {
  const flare::mesh::DataArray& a = m.point_data.get(name, "test");
  Eigen::MatrixX3d u(m.num_points(), 3);
  for (std::int64_t i = 0; i < m.num_points(); ++i)
    for (int c = 0; c < 3; ++c) u(i, c) = a.get(i, c);
  return u;
}

// An L: a 24 x 8 foot four voxels high and an 8 x 8 column sixteen voxels high, voxel 0.5.
bool l_shape(int i, int, int k) { return k < 4 || i < 8; }

SimulationOptions process() {
  SimulationOptions o;
  o.layer_height = 0.5;  // one voxel layer a group at the fine voxel
  o.supports = true;
  return o;
}

}  // namespace

TEST(CoarseSolve, GridOfAVoxelMeshIsTheGridItWasMadeFrom) {
  const flare::mesh::Mesh m = voxel_part(24, 8, 20, 0.5, l_shape);
  const VoxelGrid g = voxel_grid_of(m, "l.vtu");
  ASSERT_EQ(g.nx, 24);
  ASSERT_EQ(g.ny, 8);
  ASSERT_EQ(g.nz, 20);
  EXPECT_DOUBLE_EQ(g.voxel, 0.5);
  for (int k = 0; k < 20; ++k)
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < 24; ++i) EXPECT_EQ(g.at(i, j, k), l_shape(i, j, k)) << i << " " << j << " " << k;
  // And back: the same mesh size.
  const flare::mesh::Mesh again = voxel_mesh(g);
  EXPECT_EQ(again.num_points(), m.num_points());
  EXPECT_EQ(again.num_cells(), m.num_cells());
}

TEST(CoarseSolve, RefusesMeshesThatAreNoVoxelLattice) {
  flare::mesh::Mesh stretched = voxel_part(2, 1, 1, 1.0, [](int, int, int) { return true; });
  stretched.points.col(0) *= 1.5;  // boxes, not cubes
  EXPECT_THROW(voxel_grid_of(stretched, "s.vtu"), flare::InputError);
  flare::mesh::Mesh off = voxel_part(2, 1, 1, 1.0, [](int, int, int) { return true; });
  for (std::int64_t p = 0; p < off.num_points(); ++p)
    if (off.points(p, 0) > 1.5) off.points(p, 0) += 0.3;  // the second cube moved off the lattice
  EXPECT_THROW(voxel_grid_of(off, "o.vtu"), flare::InputError);
  EXPECT_THROW(voxel_grid_of(flare::mesh::Mesh{}, "e.vtu"), flare::InputError);
}

TEST(CoarseSolve, CoarseningSamplesTheFineVoxelAtEachCoarseCentre) {
  VoxelGrid g = VoxelGrid::empty(Eigen::Vector3d(1, 2, 3), 0.5, 5, 4, 4);
  // A wall one fine voxel thick at i = 2 and one at i = 3; a lone voxel at (0, 1, 1).
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 4; ++j) g.solid[std::size_t(g.index(2, j, k))] = g.solid[std::size_t(g.index(3, j, k))] = 1;
  g.solid[std::size_t(g.index(0, 1, 1))] = 1;
  const VoxelGrid c = coarsen(g, 2);
  ASSERT_EQ(c.nx, 3);  // centres at fine 0, 2, 4
  ASSERT_EQ(c.ny, 2);
  EXPECT_DOUBLE_EQ(c.voxel, 1.0);
  EXPECT_TRUE(c.origin.isApprox(Eigen::Vector3d(0.75, 1.75, 2.75)));
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 2; ++j) {
      EXPECT_FALSE(c.at(0, j, k));
      EXPECT_TRUE(c.at(1, j, k)) << "the two-voxel wall is one coarse voxel thick";
      EXPECT_FALSE(c.at(2, j, k));
    }
  // The diagonal placement: centres on fine voxels 1 and 3, the lattice half a fine voxel up.
  const VoxelGrid c1 = coarsen(g, 2, {1, 1, 1});
  ASSERT_EQ(c1.nx, 2);
  EXPECT_TRUE(c1.origin.isApprox(Eigen::Vector3d(1.25, 2.25, 3.25)));
  EXPECT_FALSE(c1.at(0, 0, 0));
  EXPECT_TRUE(c1.at(1, 0, 0));
  EXPECT_THROW(coarsen(g, 2, {0, 2, 0}), flare::Error);
  // One axis at a time: centres on fine x 1 and 3, y and z as the first placement.
  const VoxelGrid cx = coarsen(g, 2, {1, 0, 0});
  ASSERT_EQ(cx.nx, 2);
  ASSERT_EQ(cx.ny, 2);
  EXPECT_TRUE(cx.origin.isApprox(Eigen::Vector3d(1.25, 1.75, 2.75)));
  EXPECT_FALSE(cx.at(0, 0, 0));
  EXPECT_TRUE(cx.at(1, 0, 0));
  // A factor of 1 is the grid itself.
  const VoxelGrid same = coarsen(g, 1);
  EXPECT_EQ(same.solid, g.solid);
  EXPECT_EQ(same.origin, g.origin);
}

// Trilinear interpolation reproduces a linear field exactly where a point lies inside the coarse
// solid; near its boundary (the coarse lattice is shifted, so some fine points lie outside it) a
// point takes the nearest coarse node, within a coarse voxel's reach of the exact value.
TEST(CoarseSolve, SamplingReproducesALinearField) {
  const flare::mesh::Mesh fine = voxel_part(24, 8, 20, 0.5, l_shape);
  const VoxelGrid cg = coarsen(voxel_grid_of(fine, "l.vtu"), 2);
  flare::mesh::Mesh coarse = voxel_mesh(cg);
  const double z_shift = cg.origin.z();  // the lowest coarse layer (0) is solid
  const Eigen::Vector3d grad_x(0.1, 0, 0.05), grad_y(0, 0.3, 0), grad_z(-0.2, 0, 0.4);
  auto linear = [&](const Eigen::Vector3d& p) { return Eigen::Vector3d(p.x() * grad_x + p.y() * grad_y + p.z() * grad_z); };
  flare::mesh::DataArray u("displacement", flare::mesh::DType::Float64, 3, coarse.num_points());
  for (std::int64_t p = 0; p < coarse.num_points(); ++p) {
    const Eigen::Vector3d v = linear(coarse.points.row(p).transpose() + Eigen::Vector3d(0, 0, z_shift));
    for (int c = 0; c < 3; ++c) u.data<double>()[3 * p + c] = v[c];
  }
  coarse.point_data.put(std::move(u));
  const Eigen::MatrixX3d s = sample_at_points(coarse, cg, z_shift, fine, "displacement");
  ASSERT_EQ(s.rows(), fine.num_points());
  const double reach = std::sqrt(3.0) * cg.voxel * (grad_x.norm() + grad_y.norm() + grad_z.norm());
  int interior = 0;
  for (std::int64_t p = 0; p < fine.num_points(); ++p) {
    const Eigen::Vector3d x = fine.points.row(p).transpose();
    const Eigen::Vector3d t = (x - cg.origin) / cg.voxel;
    bool deep = true;  // every coarse voxel around the point is solid
    for (int dk = -1; dk <= 1; ++dk)
      for (int dj = -1; dj <= 1; ++dj)
        for (int di = -1; di <= 1; ++di) {
          const int i = int(std::floor(t.x())) + di, j = int(std::floor(t.y())) + dj, k = int(std::floor(t.z())) + dk;
          deep = deep && i >= 0 && j >= 0 && k >= 0 && i < cg.nx && j < cg.ny && k < cg.nz && cg.at(i, j, k);
        }
    const double e = (s.row(p).transpose() - linear(x)).norm();
    if (deep) {
      ++interior;
      EXPECT_NEAR(e, 0, 1e-12) << "point " << p;
    } else {
      EXPECT_LE(e, reach) << "point " << p;
    }
  }
  EXPECT_GT(interior, 100);  // 256 of 2,420
}

// On the L the coarse solve is an estimate of the full one: the same shape of field, off by the
// coarse voxel's error, and exactly what blend_coarse_solve mixes in.
TEST(CoarseSolve, IsAnEstimateOfTheFullSolveAndBlendsWithTheSurrogate) {
  flare::mesh::Mesh part = voxel_part(24, 8, 20, 0.5, l_shape);
  flare::mesh::Mesh full = part;
  simulate(full, process());
  const Eigen::MatrixX3d truth = field_of(full, "displacement");
  const CoarseSolve cs = coarse_solve(part, process(), 2, "l.vtu");
  EXPECT_DOUBLE_EQ(cs.voxel, 1.0);
  EXPECT_EQ(cs.lattices, 4);  // the in-plane placements
  EXPECT_GT(cs.nodes, 0);
  EXPECT_LT(cs.nodes, part.num_points());  // four meshes of about an eighth each
  EXPECT_GT(cs.spread, 0.0);
  EXPECT_LT(cs.spread, 0.5);
  const double e = rel_l2(cs.displacement, truth);
  EXPECT_GT(e, 0.0);
  EXPECT_LT(e, 0.6) << "the coarse field should resemble the full one";  // measured 0.46
  const double cosine = (cs.displacement.array() * truth.array()).sum() / cs.displacement.norm() / truth.norm();
  EXPECT_GT(cosine, 0.85);  // measured 0.92

  // A "surrogate" that is the truth scaled by 1.3, with score 0.3 against sigma 0.5.
  flare::mesh::DataArray pred("displacement_pred", flare::mesh::DType::Float64, 3, part.num_points());
  for (std::int64_t i = 0; i < part.num_points(); ++i)
    for (int c = 0; c < 3; ++c) pred.data<double>()[3 * i + c] = 1.3 * truth(i, c);
  part.point_data.put(std::move(pred));
  part.point_data.put(full.point_data.get("displacement", "test"));
  const CoarseBlend b = blend_coarse_solve(part, "displacement", 0.3, 0.5, process(), 2, "l.vtu");
  EXPECT_NEAR(b.weight, 0.25 / (0.09 + 0.25), 1e-12);
  EXPECT_NEAR(b.estimated_error, 1 / std::sqrt(1 / 0.09 + 1 / 0.25), 1e-12);
  const Eigen::MatrixX3d model = field_of(part, "displacement_model");
  const Eigen::MatrixX3d coarse = field_of(part, "displacement_coarse");
  const Eigen::MatrixX3d mixed = field_of(part, "displacement_pred");
  EXPECT_NEAR(rel_l2(model, 1.3 * truth), 0, 1e-15);
  EXPECT_NEAR(rel_l2(coarse, cs.displacement), 0, 1e-12);
  EXPECT_NEAR((mixed - (b.weight * model + (1 - b.weight) * coarse)).norm(), 0, 1e-12);
  EXPECT_NEAR((field_of(part, "displacement_error") - (mixed - truth)).norm(), 0, 1e-12);
  const flare::mesh::DataArray& mag = part.point_data.get("displacement_pred_magnitude", "test");
  EXPECT_NEAR(mag.get(7), mixed.row(7).norm(), 1e-12);
}

TEST(CoarseSolve, WeightsFollowTheExpectedErrors) {
  EXPECT_DOUBLE_EQ(surrogate_weight(0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(surrogate_weight(0.5, 0.5), 0.5);
  EXPECT_GT(surrogate_weight(0.1, 0.5), surrogate_weight(0.4, 0.5));
  EXPECT_THROW(surrogate_weight(0.1, 0), flare::Error);
}

TEST(CoarseSolve, FeaturesThinnerThanTheCoarseVoxelAreKeptBySomePlacement) {
  // One layer of voxels where i + j is odd (a checkerboard of posts one voxel wide): the placement
  // on even i and j samples none of them, the two on mixed parities sample all, and the part's
  // bottom layer is sampled by every placement, so something of every part is left.
  const flare::mesh::Mesh posts = voxel_part(6, 6, 1, 0.5, [](int i, int j, int) { return (i + j) % 2 == 1; });
  const CoarseMeshes c = coarse_meshes(posts, 2, "posts.vtu");
  EXPECT_EQ(c.meshes.size(), 2u);
  const CoarseSolve s = coarse_solve(posts, process(), 2, "posts.vtu");
  EXPECT_EQ(s.lattices, 2);
  EXPECT_TRUE(s.displacement.allFinite());
}

// The pieces `am dataset --coarse-field` batches on the GPU: the unsolved lattices, solved one by
// one here, and their combination are coarse_solve.
TEST(CoarseSolve, LatticesSolvedApartAndCombinedAreTheCoarseSolve) {
  const flare::mesh::Mesh part = voxel_part(24, 8, 20, 0.5, l_shape);
  CoarseMeshes c = coarse_meshes(part, 2, "l.vtu");
  ASSERT_EQ(c.meshes.size(), 4u);
  EXPECT_DOUBLE_EQ(c.voxel, 1.0);
  SimulationOptions lattice = process();
  lattice.rtol = lattice.coarse_rtol;  // the lattices are solved to the coarse tolerance
  for (auto& m : c.meshes) simulate(m, lattice);
  const CoarseSolve a = combine_coarse(c, part), b = coarse_solve(part, process(), 2, "l.vtu");
  EXPECT_EQ(a.lattices, b.lattices);
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_DOUBLE_EQ(a.spread, b.spread);
  EXPECT_EQ((a.displacement - b.displacement).cwiseAbs().maxCoeff(), 0.0);
}

// The coarse lattice hangs on the part's own voxels, not on the plate: a part moved on the plate
// by a distance that is no multiple of the coarse voxel gets the same coarse field, so a model that
// reads it stays independent of where the part sits (issue 16's 1e-5).
TEST(CoarseSolve, AMovedPartGetsTheSameCoarseField) {
  // A slab with posts and a wall one fine voxel thick, so that many fine nodes lie outside the
  // coarse solid or on its planes beside empty coarse voxels, at a voxel with no exact binary form (0.73 mm, the knee's in examples/heldout): where a moved
  // point falls, a hair to either side of such a plane, is decided by rounding. When the voxel and
  // the nearest coarse node went by that side (ties broken by search order), this part's field
  // moved by 0.06-0.10 and the knee's by 0.013 (its prediction by 0.032).
  const flare::mesh::Mesh here = voxel_part(
      23, 9, 12, 0.73, [](int i, int j, int k) { return k < 2 || (k < 10 && ((i + 2 * j) % 5 == 0 || i == 7)); });
  const CoarseSolve a = coarse_solve(here, process(), 2, "here.vtu");
  for (const auto& [dx, dy] : {std::pair{40.3, 25.1}, {0.1, 0.7}, {123.456, 7.89}, {1e3 / 3, -17.0 / 7}}) {
    flare::mesh::Mesh there = here;
    there.points.col(0).array() += dx;
    there.points.col(1).array() += dy;
    const CoarseSolve b = coarse_solve(there, process(), 2, "there.vtu");
    EXPECT_EQ(a.nodes, b.nodes);
    EXPECT_LT(rel_l2(b.displacement, a.displacement), 1e-9) << dx << ", " << dy;
  }
}

// The process is unchanged by a turn of the part about z and by a mirror in x (in-plane isotropic
// inherent strain), so the coarse field must turn with the part: the set of in-plane placements
// is mapped onto itself. The L is 24 x 8 voxels, even both ways: a turn swaps which fine voxels a
// diagonal placement samples, and the two diagonal placements used before changed the field by
// 0.065 (turned) and 0.056 (mirrored).
TEST(CoarseSolve, ATurnedOrMirroredPartGetsTheTurnedCoarseField) {
  const flare::mesh::Mesh here = voxel_part(24, 8, 20, 0.5, l_shape);
  const CoarseSolve a = coarse_solve(here, process(), 2, "here.vtu");
  Eigen::Matrix3d turn, mirror;
  turn << 0, -1, 0, 1, 0, 0, 0, 0, 1;
  mirror << -1, 0, 0, 0, 1, 0, 0, 0, 1;
  for (const Eigen::Matrix3d& m : {turn, mirror}) {
    flare::mesh::Mesh there = here;
    there.points = (here.points * m.transpose()).eval();
    const CoarseSolve b = coarse_solve(there, process(), 2, "there.vtu");
    EXPECT_EQ(a.nodes, b.nodes);
    EXPECT_LT(rel_l2(b.displacement, a.displacement * m.transpose()), 1e-6) << m;
  }
}

// A model that reads displacement_coarse gets it made where the mesh lacks it, and only then.
TEST(CoarseSolve, EnsureCoarseFieldMakesItOnlyWhereAModelReadsItAndItIsMissing) {
  flare::mesh::Mesh part = voxel_part(24, 8, 20, 0.5, l_shape);
  EXPECT_FALSE(ensure_coarse_field(part, {}, process(), "l.vtu"));
  EXPECT_FALSE(ensure_coarse_field(part, {"layer"}, process(), "l.vtu"));
  EXPECT_EQ(part.point_data.find(kCoarseField), nullptr);
  const auto made = ensure_coarse_field(part, {kCoarseField}, process(), "l.vtu");
  ASSERT_TRUE(made);
  EXPECT_EQ(made->lattices, 4);
  EXPECT_NEAR((field_of(part, kCoarseField) - coarse_solve(part, process(), 2, "l.vtu").displacement).norm(), 0, 1e-12);
  EXPECT_FALSE(ensure_coarse_field(part, {kCoarseField}, process(), "l.vtu"));  // kept as it is

  // Not a voxel mesh: one line that says how to get one.
  flare::mesh::Mesh tet = part;
  tet.point_data = {};
  tet.points.col(0) *= 1.5;  // boxes, not cubes
  try {
    ensure_coarse_field(tet, {kCoarseField}, process(), "tet.vtu");
    FAIL() << "a mesh off the lattice was accepted";
  } catch (const flare::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("tet.vtu"), std::string::npos) << m;
    EXPECT_NE(m.find("am voxelize"), std::string::npos) << m;
    EXPECT_NE(m.find("lpbf-v2-geometry.h5"), std::string::npos) << m;  // the model that needs no lattice
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}
