// Agreement with CalculiX on three small parts of different shape (single-step method). ccx is
// the reference solver of record; the test skips where it is not installed.
#include <gtest/gtest.h>

#include <chrono>
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
