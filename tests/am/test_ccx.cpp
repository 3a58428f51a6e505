// Agreement with CalculiX on three small parts of different shape, single-step and layer by
// layer. ccx is the reference solver of record; the tests skip where it is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "am/simulate.h"
#include "tests/am/ccx_reference.h"
#include "tests/am/voxel_part.h"

using namespace flare;
using namespace flare::am;

namespace {

struct Shape {
  const char* name;
  mesh::Mesh mesh;
};

std::vector<Shape> shapes() {
  const double h = 1e-3;  // 1 mm voxels
  return {
      {"block", test::voxel_part(10, 6, 5, h, [](int, int, int) { return true; })},
      {"l_bracket", test::voxel_part(12, 5, 10, h, [](int i, int, int k) { return k < 2 || i < 3; })},
      // Two pillars carrying a deck that overhangs the right pillar.
      {"bridge", test::voxel_part(14, 4, 8, h,
                                  [](int i, int, int k) { return k >= 5 || i < 3 || (i >= 8 && i < 11); })},
  };
}

}  // namespace

TEST(Ccx, SingleStepDisplacementAgreesWithCalculix) {
  if (test::ccx_binary().empty()) GTEST_SKIP() << "CalculiX (ccx) is not installed";
  for (const Shape& shape : shapes()) {
    for (const char* material : {"ti64", "alsi10mg"}) {
      mesh::Mesh m = shape.mesh;
      SimulationOptions o;
      o.material = material_by_name(material);
      o.layer_groups = 1;
      o.rtol = 1e-10;
      simulate(m, o);
      const auto v = m.point_data.get("displacement", "test").to_doubles();
      const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> u(v.data(), m.num_points(), 3);

      const auto t0 = std::chrono::steady_clock::now();
      const auto dir = std::filesystem::path(::testing::TempDir()) / (std::string("ccx_") + shape.name + "_" + material);
      const Eigen::MatrixXd ref = test::ccx_single_step(m, o.material, dir);
      const double ccx_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double rel = (u - ref).norm() / ref.norm();
      std::printf("ccx agreement %-10s %-9s nodes %5lld  relative L2 %.3e  max|u| %.4e m  ccx %.2f s\n",
                  shape.name, material, (long long)m.num_points(), rel, ref.rowwise().norm().maxCoeff(), ccx_s);
      // The brief asks for 1%; the two agree to the ~6 digits ccx prints, so hold them to 1e-4.
      EXPECT_LT(rel, 1e-4) << shape.name << " / " << material;
      std::filesystem::remove_all(dir);
    }
  }
}

// Layer by layer (K > 1). Our build is incremental and linear: group k adds its cells to the
// stiffness and its inherent strain to the load, and the displacement increment of that solve is
// added to every active node. The same increments come from K independent CalculiX solves: solve
// k meshes the cells of groups 1..k, only group k's cells expand (the others are of a material
// without expansion), the active plate nodes are fixed. Their sum must be our displacement,
// node by node; the single-step test cannot see a wrong group assignment, a load applied to the
// wrong cells, or increments added to nodes not yet born.
TEST(Ccx, LayerByLayerDisplacementAgreesWithCalculix) {
  if (test::ccx_binary().empty()) GTEST_SKIP() << "CalculiX (ccx) is not installed";
  // Group counts that put no cell centroid on a slab boundary (heights of 10 and 8 voxels).
  const std::vector<std::pair<Shape, int>> cases = [] {
    auto s = shapes();
    return std::vector<std::pair<Shape, int>>{{s[1], 5}, {s[2], 4}};
  }();
  for (const auto& [shape, groups] : cases) {
    mesh::Mesh m = shape.mesh;
    SimulationOptions o;
    o.layer_groups = groups;
    o.rtol = 1e-11;
    simulate(m, o);
    const auto v = m.point_data.get("displacement", "test").to_doubles();
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> u(v.data(), m.num_points(), 3);

    // The groups as simulate() defines them: slabs of equal height, a cell joins by its centroid.
    const double z_min = m.points.col(2).minCoeff(), height = m.points.col(2).maxCoeff() - z_min;
    std::vector<int> group(std::size_t(m.num_cells()));
    for (std::int64_t c = 0; c < m.num_cells(); ++c) {
      double zc = 0;
      for (int a = 0; a < 8; ++a) zc += m.points(m.cell(c)[a], 2) / 8;
      const double slab = (zc - z_min) / height * groups;
      ASSERT_GT(std::abs(slab - std::round(slab)), 1e-6) << "centroid on a slab boundary";
      group[c] = std::clamp(int(std::floor(slab)), 0, groups - 1);
    }
    Eigen::MatrixXd ref = Eigen::MatrixXd::Zero(m.num_points(), 3);
    std::vector<char> active(group.size()), strained(group.size());
    for (int k = 0; k < groups; ++k) {
      for (std::size_t c = 0; c < group.size(); ++c) {
        active[c] = group[c] <= k;
        strained[c] = group[c] == k;
      }
      const auto dir = std::filesystem::path(::testing::TempDir()) /
                       (std::string("ccx_layers_") + shape.name + "_" + std::to_string(k));
      const Eigen::MatrixXd du = test::ccx_solve(m, o.material, active, strained, dir);
      for (std::int64_t i = 0; i < m.num_points(); ++i)
        if (!std::isnan(du(i, 0))) ref.row(i) += du.row(i);
      std::filesystem::remove_all(dir);
    }
    const double rel = (u - ref).norm() / ref.norm();
    std::printf("ccx layer-by-layer %-10s groups %d  nodes %5lld  relative L2 %.3e  max|u| %.4e m\n",
                shape.name, groups, (long long)m.num_points(), rel, ref.rowwise().norm().maxCoeff());
    EXPECT_LT(rel, 1e-4) << shape.name;
    // Layer by layer differs from single step (a test that cannot tell them apart proves little).
    mesh::Mesh single = shape.mesh;
    o.layer_groups = 1;
    simulate(single, o);
    const auto w = single.point_data.get("displacement", "test").to_doubles();
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> u1(w.data(), m.num_points(), 3);
    EXPECT_GT((u1 - ref).norm() / ref.norm(), 1e-2) << shape.name;
  }
}
