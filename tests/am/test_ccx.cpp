// Agreement with CalculiX on three small parts of different shape, single-step and layer by
// layer. ccx is the reference solver of record; the tests skip where it is not installed.
#include <gtest/gtest.h>

#include <Eigen/QR>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

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

// The solver under test: the CPU solver, or with FLARE_SIM_DEVICE=cuda (on the GPU host) the GPU
// lattice solver, held to the same agreement with CalculiX.
std::string device() {
  const char* d = std::getenv("FLARE_SIM_DEVICE");
  return d && *d ? d : "cpu";
}

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

// Layer by layer (K > 1). Our build is incremental and linear: group k adds its cells to the
// stiffness and its inherent strain to the load, and the displacement increment of that solve is
// added to every active node. The same increments come from K independent CalculiX solves: solve
// k meshes the cells of groups 1..k, only group k's cells expand (the others are of a material
// without expansion), the active plate nodes are fixed. Their sum must be our displacement,
// node by node; the single-step test cannot see a wrong group assignment, a load applied to the
// wrong cells, or increments added to nodes not yet born. The plate reactions superpose the same
// way (returned in `reactions`, for the release test).
Eigen::MatrixXd ccx_layer_by_layer(const mesh::Mesh& m, const Material& material, int groups,
                                   const std::string& name, Eigen::MatrixXd* reactions = nullptr) {
  // The groups as simulate() defines them: slabs of equal height, a cell joins by its centroid.
  const double z_min = m.points.col(2).minCoeff(), height = m.points.col(2).maxCoeff() - z_min;
  std::vector<int> group(std::size_t(m.num_cells()));
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    double zc = 0;
    for (int a = 0; a < 8; ++a) zc += m.points(m.cell(c)[a], 2) / 8;
    const double slab = (zc - z_min) / height * groups;
    EXPECT_GT(std::abs(slab - std::round(slab)), 1e-6) << "centroid on a slab boundary";
    group[c] = std::clamp(int(std::floor(slab)), 0, groups - 1);
  }
  Eigen::MatrixXd u = Eigen::MatrixXd::Zero(m.num_points(), 3);
  if (reactions) *reactions = Eigen::MatrixXd::Zero(m.num_points(), 3);
  std::vector<char> active(group.size()), strained(group.size());
  for (int k = 0; k < groups; ++k) {
    for (std::size_t c = 0; c < group.size(); ++c) {
      active[c] = group[c] <= k;
      strained[c] = group[c] == k;
    }
    const auto dir = std::filesystem::path(::testing::TempDir()) /
                     ("ccx_layers_" + name + "_" + std::to_string(k));
    Eigen::MatrixXd rf;
    const Eigen::MatrixXd du = test::ccx_solve(m, material, active, strained, dir, &rf);
    for (std::int64_t i = 0; i < m.num_points(); ++i) {
      if (!std::isnan(du(i, 0))) u.row(i) += du.row(i);
      if (reactions && !std::isnan(rf(i, 0))) reactions->row(i) += rf.row(i);
    }
    std::filesystem::remove_all(dir);
  }
  return u;
}

Eigen::MatrixXd displacement(const mesh::Mesh& m) {
  const auto v = m.point_data.get("displacement", "test").to_doubles();
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>>(v.data(), m.num_points(), 3);
}

// d minus its least-squares rigid motion t + w x x (small rotations): what is left is deformation.
Eigen::MatrixXd without_rigid_motion(const mesh::Mesh& m, const Eigen::MatrixXd& d) {
  const std::int64_t n = m.num_points();
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(3 * n, 6);
  Eigen::VectorXd b(3 * n);
  for (std::int64_t i = 0; i < n; ++i) {
    const Eigen::Vector3d x = m.points.row(i).transpose();
    for (int c = 0; c < 3; ++c) A(3 * i + c, c) = 1;
    // w x x = (w1 x2 - w2 x1, w2 x0 - w0 x2, w0 x1 - w1 x0)
    A(3 * i + 0, 4) = x[2], A(3 * i + 0, 5) = -x[1];
    A(3 * i + 1, 5) = x[0], A(3 * i + 1, 3) = -x[2];
    A(3 * i + 2, 3) = x[1], A(3 * i + 2, 4) = -x[0];
    b.segment<3>(3 * i) = d.row(i).transpose();
  }
  const Eigen::VectorXd r = b - A * A.colPivHouseholderQr().solve(b);
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>>(r.data(), n, 3);
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
      o.device = device();
      simulate(m, o);
      const Eigen::MatrixXd u = displacement(m);

      const auto t0 = std::chrono::steady_clock::now();
      const auto dir = std::filesystem::path(::testing::TempDir()) / (std::string("ccx_") + shape.name + "_" + material);
      const Eigen::MatrixXd ref = test::ccx_single_step(m, o.material, dir);
      const double ccx_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double rel = (u - ref).norm() / ref.norm();
      std::printf("[%s] ccx agreement %-10s %-9s nodes %5lld  relative L2 %.3e  max|u| %.4e m  ccx %.2f s\n",
                  device().c_str(), shape.name, material, (long long)m.num_points(), rel, ref.rowwise().norm().maxCoeff(), ccx_s);
      // The brief asks for 1%; the two agree to the ~6 digits ccx prints, so hold them to 1e-4.
      EXPECT_LT(rel, 1e-4) << shape.name << " / " << material;
      std::filesystem::remove_all(dir);
    }
  }
}

TEST(Ccx, LayerByLayerDisplacementAgreesWithCalculix) {
  if (test::ccx_binary().empty()) GTEST_SKIP() << "CalculiX (ccx) is not installed";
  // Group counts that put no cell centroid on a slab boundary (heights of 10 and 8 voxels).
  const auto s = shapes();
  for (const auto& [shape, groups] : {std::pair{&s[1], 5}, std::pair{&s[2], 4}}) {
    mesh::Mesh m = shape->mesh;
    SimulationOptions o;
    o.layer_groups = groups;
    o.rtol = 1e-11;
    o.device = device();
    simulate(m, o);
    const Eigen::MatrixXd u = displacement(m);
    const Eigen::MatrixXd ref = ccx_layer_by_layer(m, o.material, groups, shape->name);
    const double rel = (u - ref).norm() / ref.norm();
    std::printf("ccx layer-by-layer %-10s groups %d  nodes %5lld  relative L2 %.3e  max|u| %.4e m\n",
                shape->name, groups, (long long)m.num_points(), rel, ref.rowwise().norm().maxCoeff());
    EXPECT_LT(rel, 1e-4) << shape->name;
    // Layer by layer differs from single step (a test that cannot tell them apart proves little).
    mesh::Mesh single = shape->mesh;
    o.layer_groups = 1;
    simulate(single, o);
    EXPECT_GT((displacement(single) - ref).norm() / ref.norm(), 1e-2) << shape->name;
  }
}

// Release from the plate: the springback is the part's answer to the plate's reactions, reversed,
// with only a statically determinate support. CalculiX: the reactions summed over the build
// solves, applied reversed to the whole part (no inherent strain) on a 3-2-1 support. Supports
// differ only by a rigid motion, so the comparison removes the best-fit rigid motion.
TEST(Ccx, ReleaseFromThePlateAgreesWithCalculix) {
  if (test::ccx_binary().empty()) GTEST_SKIP() << "CalculiX (ccx) is not installed";
  const Shape bridge = shapes()[2];
  const int groups = 4;
  mesh::Mesh m = bridge.mesh;
  SimulationOptions o;
  o.layer_groups = groups;
  o.release = true;
  o.rtol = 1e-11;
  o.device = device();
  simulate(m, o);
  const Eigen::MatrixXd u = displacement(m);

  Eigen::MatrixXd reactions;
  const Eigen::MatrixXd build = ccx_layer_by_layer(m, o.material, groups, "release", &reactions);
  // 3-2-1 on three plate corners: a fixed, b on the x axis free in x only, c free in x and y.
  const double z_min = m.points.col(2).minCoeff();
  std::int64_t a = -1, b = -1, c = -1;
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    if (m.points(i, 2) != z_min) continue;
    const Eigen::Vector3d x = m.points.row(i).transpose();
    if (a < 0 || (x[0] + x[1] < m.points(a, 0) + m.points(a, 1))) a = i;
    if (b < 0 || (x[0] - x[1] > m.points(b, 0) - m.points(b, 1))) b = i;
    if (c < 0 || (x[1] - x[0] > m.points(c, 1) - m.points(c, 0))) c = i;
  }
  ASSERT_TRUE(a != b && b != c && a != c);
  const std::vector<std::array<int, 2>> fixed{{int(a), 0}, {int(a), 1}, {int(a), 2},
                                              {int(b), 1}, {int(b), 2}, {int(c), 2}};
  const auto dir = std::filesystem::path(::testing::TempDir()) / "ccx_release_springback";
  const Eigen::MatrixXd spring = test::ccx_loaded(m, o.material, -reactions, fixed, dir);
  std::filesystem::remove_all(dir);

  const Eigen::MatrixXd ref = build + spring;
  const double rel = without_rigid_motion(m, u - ref).norm() / ref.norm();
  const double springback = without_rigid_motion(m, spring).norm() / build.norm();
  std::printf("ccx release bridge groups %d  relative L2 %.3e (modulo rigid motion); springback "
              "%.3f of the build displacement\n", groups, rel, springback);
  EXPECT_LT(rel, 1e-4);
  EXPECT_GT(springback, 1e-2) << "the springback must be visible for the test to mean anything";
}
