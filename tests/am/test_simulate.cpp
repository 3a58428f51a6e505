#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <omp.h>
#include <algorithm>
#include <cmath>

#include "am/build_plan.h"
#include "am/hex8.h"
#include "am/simulate.h"
#include "common/error.h"
#include "tests/am/voxel_part.h"
#include "tests/support/errors.h"

using namespace flare;
using namespace flare::am;
using flare::am::test::voxel_part;

namespace {

Eigen::MatrixXd displacement(const mesh::Mesh& m) {
  const auto v = m.point_data.get("displacement", "test").to_doubles();
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>>(v.data(),
                                                                                    m.num_points(), 3);
}

double relative_l2(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) { return (a - b).norm() / b.norm(); }

using flare::test::input_error;

SimulationOptions single_step(bool release = false) {
  SimulationOptions o;
  o.layer_groups = 1;
  o.release = release;
  o.rtol = 1e-10;
  return o;
}

}  // namespace

TEST(Simulate, FreeCubeUnderUniformEigenstrainDeformsAsEpsTimesX) {
  // Built on the plate then released: a free body under a uniform eigenstrain is stress-free with
  // u = eps* x up to a rigid motion (removed here by a least-squares fit).
  mesh::Mesh m = voxel_part(4, 4, 4, 0.5, [](int, int, int) { return true; });
  const SimulationOptions o = single_step(true);
  simulate(m, o);
  const Eigen::MatrixXd u = displacement(m);
  const Eigen::Vector3d eps = o.material.inherent_strain;
  Eigen::MatrixXd expected(m.num_points(), 3);
  for (int i = 0; i < m.num_points(); ++i)
    expected.row(i) = eps.cwiseProduct(Eigen::Vector3d(m.points.row(i))).transpose();
  // Rigid motion t + w x p: 6 unknowns, 3 equations per node.
  const Eigen::MatrixXd r = u - expected;
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(3 * m.num_points(), 6);
  Eigen::VectorXd rhs(3 * m.num_points());
  for (int i = 0; i < m.num_points(); ++i) {
    const Eigen::Vector3d p = m.points.row(i);
    a.block<3, 3>(3 * i, 0).setIdentity();
    a.block<3, 3>(3 * i, 3) << 0, p.z(), -p.y(), -p.z(), 0, p.x(), p.y(), -p.x(), 0;
    rhs.segment<3>(3 * i) = r.row(i).transpose();
  }
  const Eigen::VectorXd rigid = a.colPivHouseholderQr().solve(rhs);
  const double misfit = (rhs - a * rigid).norm() / expected.norm();
  EXPECT_LT(misfit, 1e-6);
  const auto vm = m.point_data.get("von_mises", "test").to_doubles();
  EXPECT_LT(*std::max_element(vm.begin(), vm.end()), 1e-5 * o.material.youngs_modulus *
                                                         o.material.inherent_strain.norm());
}

TEST(Simulate, SingleStepMatchesADenseDirectSolve) {
  // An L-shaped part; the reference assembles the dense stiffness and solves it with LDLT.
  auto mask = [](int i, int, int k) { return k == 0 || i == 0; };
  mesh::Mesh m = voxel_part(3, 2, 3, 1.0, mask);
  simulate(m, single_step());
  const std::int64_t n = m.num_points();
  const SimulationOptions o = single_step();
  const Elasticity d = isotropic_elasticity(o.material.youngs_modulus, o.material.poisson_ratio);
  Voigt eps = Voigt::Zero();
  eps.head<3>() = o.material.inherent_strain;
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(3 * n, 3 * n);
  Eigen::VectorXd f = Eigen::VectorXd::Zero(3 * n);
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    HexNodes x;
    for (int a = 0; a < 8; ++a) x.row(a) = m.points.row(m.cell(c)[a]);
    const HexMatrix ke = hex8_stiffness(x, d);
    const HexVector fe = hex8_eigenstrain_load(x, d, eps);
    for (int a = 0; a < 8; ++a) {
      f.segment<3>(3 * m.cell(c)[a]) += fe.segment<3>(3 * a);
      for (int b = 0; b < 8; ++b) k.block<3, 3>(3 * m.cell(c)[a], 3 * m.cell(c)[b]) += ke.block<3, 3>(3 * a, 3 * b);
    }
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (m.points(i, 2) == 0)
      for (int c = 0; c < 3; ++c) {
        const std::int64_t dof = 3 * i + c;
        k.row(dof).setZero();
        k.col(dof).setZero();
        k(dof, dof) = 1;
        f[dof] = 0;
      }
  const Eigen::VectorXd u_ref = k.ldlt().solve(f);
  const Eigen::MatrixXd u = displacement(m);
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> ref(u_ref.data(), n, 3);
  EXPECT_LT(relative_l2(u, ref), 1e-8);
}

TEST(Simulate, LayerByLayerWithOneGroupEqualsSingleStep) {
  // One layer of voxels: every group but the first is empty, so K = 4 must equal K = 1.
  mesh::Mesh a = voxel_part(5, 3, 1, 1.0, [](int, int, int) { return true; });
  mesh::Mesh b = a;
  simulate(a, single_step());
  SimulationOptions o = single_step();
  o.layer_groups = 4;
  const SimulationReport r = simulate(b, o);
  EXPECT_EQ(r.groups, 4);
  EXPECT_LT(relative_l2(displacement(b), displacement(a)), 1e-8);
}

TEST(Simulate, LayerByLayerDiffersFromSingleStepAndRecordsBirthLayers) {
  mesh::Mesh a = voxel_part(6, 2, 4, 1.0, [](int, int, int) { return true; });
  mesh::Mesh b = a;
  simulate(a, single_step());
  SimulationOptions o = single_step();
  o.layer_groups = 4;
  std::vector<int> seen;
  simulate(b, o, [&](int g, int groups) {
    EXPECT_EQ(groups, 4);
    seen.push_back(g);
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  // Building in layers lets each new layer land on an already-shrunk base: different field.
  EXPECT_GT(relative_l2(displacement(b), displacement(a)), 1e-3);
  const auto layer = b.point_data.get("layer", "test");
  EXPECT_EQ(layer.type(), mesh::DType::Int32);
  for (std::int64_t i = 0; i < b.num_points(); ++i) {
    const int z = int(std::lround(b.points(i, 2)));
    EXPECT_EQ(layer.get(i), std::max(0, z - 1)) << "node " << i << " at z = " << z;
  }
  EXPECT_EQ(b.field_strings.at("material"), "ti64");
  EXPECT_EQ(b.field_data.get("layer_groups", "test").get(0), 4);
  EXPECT_EQ(b.field_data.get("inherent_strain", "test").components(), 3);
}

TEST(Simulate, PlateNodesStayFixedAndTheTopShrinksDown) {
  mesh::Mesh m = voxel_part(4, 4, 4, 1.0, [](int, int, int) { return true; });
  simulate(m, SimulationOptions{});
  const Eigen::MatrixXd u = displacement(m);
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    if (m.points(i, 2) == 0) EXPECT_EQ(u.row(i).norm(), 0.0);
    if (m.points(i, 2) == 4) EXPECT_LT(u(i, 2), 0.0);
  }
}

TEST(Simulate, VoxelCellsGiveTheSameResultAsHexahedra) {
  auto mask = [](int i, int j, int k) { return k < 2 || (i + j) % 3 != 0; };
  mesh::Mesh a = voxel_part(4, 3, 3, 0.25, mask);
  mesh::Mesh b = voxel_part(4, 3, 3, 0.25, mask, mesh::CellType::Voxel);
  simulate(a, SimulationOptions{});
  simulate(b, SimulationOptions{});
  EXPECT_LT(relative_l2(displacement(b), displacement(a)), 1e-12);
}

TEST(Simulate, RefiningVoxelsConverges) {
  // The same 4 x 1 x 2 cantilever-ish block at h, h/2, h/4: the change in displacement at the
  // coarse nodes must shrink with each halving.
  auto solve = [](int refine) {
    mesh::Mesh m = voxel_part(4 * refine, refine, 2 * refine, 1.0 / refine,
                              [&](int i, int, int k) { return k < refine || i < refine; });
    SimulationOptions o = single_step();
    simulate(m, o);
    return m;
  };
  const mesh::Mesh m1 = solve(1), m2 = solve(2), m4 = solve(4);
  auto at_coarse = [&](const mesh::Mesh& fine) {
    const Eigen::MatrixXd uf = displacement(fine);
    Eigen::MatrixXd out(m1.num_points(), 3);
    for (std::int64_t i = 0; i < m1.num_points(); ++i) {
      std::int64_t best = 0;
      for (std::int64_t j = 0; j < fine.num_points(); ++j)
        if ((fine.points.row(j) - m1.points.row(i)).norm() < (fine.points.row(best) - m1.points.row(i)).norm())
          best = j;
      out.row(i) = uf.row(best);
    }
    return out;
  };
  const Eigen::MatrixXd u1 = displacement(m1), u2 = at_coarse(m2), u4 = at_coarse(m4);
  const double d12 = relative_l2(u1, u4), d24 = relative_l2(u2, u4);
  EXPECT_LT(d24, 0.6 * d12) << "h: " << d12 << ", h/2: " << d24;
}

TEST(Simulate, BadInputIsAnInputError) {
  mesh::Mesh empty;
  EXPECT_NE(input_error([&] { simulate(empty, {}); }).find("empty"), std::string::npos);

  mesh::Mesh tet;
  tet.points.resize(4, 3);
  tet.points << 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1;
  tet.add_cell(mesh::CellType::Tetra, {0, 1, 2, 3});
  EXPECT_NE(input_error([&] { simulate(tet, {}); }).find("non-hexahedral"), std::string::npos);

  // A cube floating above a block that stands on the plate.
  mesh::Mesh island = voxel_part(4, 1, 4, 1.0, [](int i, int, int k) { return k == 0 || (i == 3 && k == 3); });
  EXPECT_NE(input_error([&] { simulate(island, {}); }).find("not joined face to face"),
            std::string::npos);
  // A cube hanging on by one edge of the block below it: a hinge.
  mesh::Mesh hinge = voxel_part(3, 1, 2, 1.0, [](int i, int, int k) { return (k == 0 && i == 0) || (k == 1 && i == 1); });
  EXPECT_NE(input_error([&] { simulate(hinge, {}); }).find("not joined face to face"),
            std::string::npos);

  mesh::Mesh ok = voxel_part(2, 2, 2, 1.0, [](int, int, int) { return true; });
  SimulationOptions o;
  o.layer_groups = 0;
  EXPECT_NE(input_error([&] { simulate(ok, o); }).find("--layers"), std::string::npos);
  ok.points(3, 2) = std::nan("");
  EXPECT_NE(input_error([&] { simulate(ok, {}); }), "<no InputError>");
}

TEST(Simulate, MultigridAndBlockJacobiGiveTheSameSolution) {
  // A bracket with an overhang, large enough for three multigrid levels; layered, with and
  // without release (the release step exercises the partial 3-2-1 constraints on coarse levels).
  auto mask = [](int i, int j, int k) { return k < 3 || i < 4 || (k > 7 && j > 2); };
  for (bool release : {false, true}) {
    mesh::Mesh a = voxel_part(16, 8, 10, 1e-3, mask);
    mesh::Mesh b = a;
    SimulationOptions o;
    o.layer_groups = 5;
    o.release = release;
    o.rtol = 1e-10;
    o.multigrid = false;
    const SimulationReport ra = simulate(a, o);
    o.multigrid = true;
    const SimulationReport rb = simulate(b, o);
    EXPECT_LT(relative_l2(displacement(b), displacement(a)), 1e-7) << "release " << release;
    EXPECT_LT(3 * rb.cg_iterations, ra.cg_iterations)
        << "multigrid did not engage: " << rb.cg_iterations << " vs " << ra.cg_iterations;
  }
}

TEST(Simulate, ThreadOptionAppliesToTheSolveOnlyAndKeepsTheResult) {
  const int before = omp_get_max_threads();
  auto mask = [](int i, int, int k) { return k < 2 || i < 3; };
  mesh::Mesh a = voxel_part(12, 6, 8, 1e-3, mask), b = a;
  SimulationOptions o;
  o.rtol = 1e-10;
  simulate(a, o);
  o.threads = 1;
  simulate(b, o);
  EXPECT_EQ(omp_get_max_threads(), before);
  EXPECT_LT(relative_l2(displacement(b), displacement(a)), 1e-8);
}

TEST(Simulate, SupportsHoldOverhangingFacesUntilTheRelease) {
  // A deck on two pillars (1 mm voxels): the deck's underside over the gap (z = 5) hangs; the
  // pillars' sides and the deck's underside next to them (45 degrees) do not.
  auto bridge = [](int i, int, int k) { return k >= 5 || i < 3 || (i >= 8 && i < 11); };
  const mesh::Mesh base = voxel_part(14, 4, 8, 1.0, bridge);
  auto hanging = [&](const mesh::Mesh& m, std::int64_t p) {
    const double x = m.points(p, 0), z = m.points(p, 2);
    return z == 5.0 && x >= 4.0 && x <= 7.0;  // gap cells i = 3..7; their diagonal neighbours rest on pillars
  };
  SimulationOptions o;
  o.layer_groups = 8;
  o.supports = true;
  mesh::Mesh held = base;
  simulate(held, o);
  const Eigen::MatrixXd u = displacement(held);
  int n_hanging = 0;
  for (std::int64_t p = 0; p < held.num_points(); ++p)
    if (hanging(held, p)) {
      ++n_hanging;
      EXPECT_EQ(u.row(p).norm(), 0.0) << "node " << p << " on a supported face moved";
    }
  EXPECT_EQ(n_hanging, 4 * 5);  // x = 4..7 (4 node columns), y = 0..4 (5 node rows)
  EXPECT_EQ(held.field_data.get("supports", "test").get(0), 1);

  mesh::Mesh free_build = base;
  o.supports = false;
  simulate(free_build, o);
  mesh::Mesh released = base;
  o.supports = true;
  o.release = true;
  simulate(released, o);
  const Eigen::MatrixXd uf = displacement(free_build), ur = displacement(released);
  for (std::int64_t p = 0; p < base.num_points(); ++p)
    if (hanging(base, p)) {
      EXPECT_GT(uf.row(p).norm(), 1e-4) << "without supports the overhang moves";
      EXPECT_GT(ur.row(p).norm(), 1e-4) << "released, the supported face springs back";
    }
}

// The plan (faces matched, groups, births, held and supported nodes) is threaded; it must not
// depend on the thread count. An inverted L with a pendant under its arm: the pendant starts in
// mid-air (held until the arm joins it), and its underside hangs (supported when supports are on).
TEST(BuildPlan, DoesNotDependOnTheThreadCount) {
  auto shape = [](int i, int, int k) { return i < 3 || k >= 6 || (i >= 9 && i < 11 && k >= 3); };
  const mesh::Mesh part = voxel_part(12, 3, 8, 1.0, shape);
  const int before = omp_get_max_threads();
  for (bool supports : {false, true}) {
    SimulationOptions o;
    o.layer_height = 1.0;
    o.supports = supports;
    omp_set_num_threads(1);
    const BuildPlan a = plan_build(part, o);
    omp_set_num_threads(4);
    const BuildPlan b = plan_build(part, o);
    omp_set_num_threads(before);
    EXPECT_EQ(a.elements, b.elements);
    EXPECT_EQ(a.plate, b.plate);
    EXPECT_EQ(a.group_of, b.group_of);
    EXPECT_EQ(a.members, b.members);
    EXPECT_EQ(a.birth, b.birth);
    EXPECT_EQ(a.held, b.held);
    EXPECT_EQ(a.supported, b.supported);
    std::size_t held = 0;
    for (const auto& h : a.held) held += h.size();
    const auto supported = std::count(a.supported.begin(), a.supported.end(), 1);
    if (supports) {
      EXPECT_GT(supported, 0);  // the pendant's underside
      EXPECT_EQ(held, 0u);      // standing on its supports
    } else {
      EXPECT_GT(held, 0u);      // the pendant until the arm reaches it
      EXPECT_EQ(supported, 0);
    }
  }
}
