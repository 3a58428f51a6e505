#include <gtest/gtest.h>

#include <Eigen/Dense>

#include "am/hex8.h"

using namespace flare::am;

namespace {
// A sheared, stretched brick: exercises the full Jacobian, not just the box case.
HexNodes distorted_hex() {
  HexNodes x;
  x << 0, 0, 0, 2, 0.1, 0, 2.2, 1.5, 0.1, -0.1, 1.4, 0, 0.1, 0.2, 1, 2.1, 0.1, 1.2, 2.3, 1.6, 1.1,
      0, 1.5, 0.9;
  return x;
}
}  // namespace

TEST(Hex8, StiffnessIsSymmetricAndKillsRigidBodyModes) {
  const HexNodes x = distorted_hex();
  const HexMatrix k = hex8_stiffness(x, isotropic_elasticity(110e9, 0.31));
  EXPECT_LT((k - k.transpose()).norm(), 1e-12 * k.norm());
  for (int mode = 0; mode < 6; ++mode) {
    HexVector r;
    for (int a = 0; a < 8; ++a) {
      Eigen::Vector3d v = Eigen::Vector3d::Zero();
      if (mode < 3) v[mode] = 1;
      else v = Eigen::Vector3d::Unit(mode - 3).cross(Eigen::Vector3d(x.row(a)));
      r.segment<3>(3 * a) = v;
    }
    EXPECT_LT((k * r).norm(), 1e-9 * k.norm()) << "rigid mode " << mode;
  }
  Eigen::SelfAdjointEigenSolver<HexMatrix> eig(k);
  EXPECT_GT(eig.eigenvalues()[6], 1e-6 * eig.eigenvalues()[23]) << "spurious zero-energy mode";
}

TEST(Hex8, UniformEigenstrainIsReproducedExactly) {
  // u = eps* x is a uniform strain field, which trilinear elements represent exactly: the element
  // is then stress-free, so K u = f and the internal force vanishes.
  const HexNodes x = distorted_hex();
  const Elasticity d = isotropic_elasticity(193e9, 0.3);
  Voigt eps;
  eps << -0.005, -0.004, -0.01, 0, 0, 0;
  HexVector u;
  for (int a = 0; a < 8; ++a) u.segment<3>(3 * a) = eps.head<3>().cwiseProduct(Eigen::Vector3d(x.row(a)));
  const HexVector f = hex8_eigenstrain_load(x, d, eps);
  EXPECT_LT((hex8_stiffness(x, d) * u - f).norm(), 1e-9 * f.norm());
  EXPECT_LT(hex8_internal_force(x, d, eps, u).norm(), 1e-9 * f.norm());
  EXPECT_LT(hex8_mean_stress(x, d, eps, u).norm(), 1e-6);
}

TEST(Hex8, VonMisesOfUniaxialAndHydrostaticStress) {
  Voigt s;
  s << 100, 0, 0, 0, 0, 0;
  EXPECT_NEAR(von_mises(s), 100, 1e-12);
  s << 50, 50, 50, 0, 0, 0;
  EXPECT_NEAR(von_mises(s), 0, 1e-12);
  s << 0, 0, 0, 10, 0, 0;
  EXPECT_NEAR(von_mises(s), 10 * std::sqrt(3.0), 1e-12);
}

TEST(Hex8, BoxDetection) {
  HexNodes x;
  x << 1, 2, 3, 1.5, 2, 3, 1.5, 2.25, 3, 1, 2.25, 3, 1, 2, 4, 1.5, 2, 4, 1.5, 2.25, 4, 1, 2.25, 4;
  Eigen::Vector3d size;
  ASSERT_TRUE(hex8_is_box(x, size));
  EXPECT_NEAR((size - Eigen::Vector3d(0.5, 0.25, 1)).norm(), 0, 1e-15);
  EXPECT_FALSE(hex8_is_box(distorted_hex(), size));
}

TEST(Hex8, MeanStrainDisplacementGivesTheMeanStress) {
  // The stress is linear in the strain, so the mean over the Gauss points is D (B_mean u - eps).
  const HexNodes x = distorted_hex();
  const Elasticity d = isotropic_elasticity(200e9, 0.3);
  Voigt eps;
  eps << -0.004, -0.003, -0.01, 0.001, 0.0, 0.002;
  HexVector u;
  for (int i = 0; i < 24; ++i) u[i] = 1e-3 * std::cos(1.7 * i);
  const Voigt expected = hex8_mean_stress(x, d, eps, u);
  const Voigt got = d * (hex8_mean_strain_displacement(x) * u - eps);
  EXPECT_LT((got - expected).norm(), 1e-9 * expected.norm());
}
