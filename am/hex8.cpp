#include "am/hex8.h"

#include <Eigen/LU>
#include <cmath>

#include "common/error.h"

namespace flare::am {

namespace {
// Natural coordinates of the VTK hexahedron's nodes.
constexpr double kSign[8][3] = {{-1, -1, -1}, {1, -1, -1}, {1, 1, -1}, {-1, 1, -1},
                                {-1, -1, 1},  {1, -1, 1},  {1, 1, 1},  {-1, 1, 1}};

template <typename F>
void for_each_gauss_point(F&& f) {
  const double g = 1.0 / std::sqrt(3.0);
  for (int k = 0; k < 8; ++k) f(Eigen::Vector3d(kSign[k][0] * g, kSign[k][1] * g, kSign[k][2] * g));
}
}  // namespace

Elasticity isotropic_elasticity(double e, double nu) {
  const double lambda = e * nu / ((1 + nu) * (1 - 2 * nu));
  const double mu = e / (2 * (1 + nu));
  Elasticity d = Elasticity::Zero();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) d(i, j) = lambda;
    d(i, i) = lambda + 2 * mu;
    d(3 + i, 3 + i) = mu;
  }
  return d;
}

void hex8_strain_displacement(const HexNodes& x, const Eigen::Vector3d& xi,
                              Eigen::Matrix<double, 6, 24>& b, double& det_j) {
  Eigen::Matrix<double, 3, 8> dn_dxi;  // derivatives of N_a with respect to (xi, eta, zeta)
  for (int a = 0; a < 8; ++a) {
    const double s0 = kSign[a][0], s1 = kSign[a][1], s2 = kSign[a][2];
    const double f0 = 1 + s0 * xi[0], f1 = 1 + s1 * xi[1], f2 = 1 + s2 * xi[2];
    dn_dxi(0, a) = 0.125 * s0 * f1 * f2;
    dn_dxi(1, a) = 0.125 * f0 * s1 * f2;
    dn_dxi(2, a) = 0.125 * f0 * f1 * s2;
  }
  const Eigen::Matrix3d jac = dn_dxi * x;  // J(i, j) = d x_j / d xi_i
  det_j = jac.determinant();
  FLARE_INPUT_CHECK(det_j > 0, "inverted or degenerate hexahedron (det J = ", det_j,
                    "): check the VTK node order of the cells");
  const Eigen::Matrix<double, 3, 8> dn = jac.inverse() * dn_dxi;  // d N_a / d x_j
  b.setZero();
  for (int a = 0; a < 8; ++a) {
    const int c = 3 * a;
    b(0, c) = dn(0, a);
    b(1, c + 1) = dn(1, a);
    b(2, c + 2) = dn(2, a);
    b(3, c) = dn(1, a);
    b(3, c + 1) = dn(0, a);
    b(4, c + 1) = dn(2, a);
    b(4, c + 2) = dn(1, a);
    b(5, c) = dn(2, a);
    b(5, c + 2) = dn(0, a);
  }
}

HexMatrix hex8_stiffness(const HexNodes& x, const Elasticity& d) {
  HexMatrix k = HexMatrix::Zero();
  Eigen::Matrix<double, 6, 24> b;
  double det_j;
  for_each_gauss_point([&](const Eigen::Vector3d& xi) {
    hex8_strain_displacement(x, xi, b, det_j);
    k.noalias() += b.transpose() * (d * b) * det_j;
  });
  return k;
}

HexVector hex8_eigenstrain_load(const HexNodes& x, const Elasticity& d, const Voigt& eps) {
  HexVector f = HexVector::Zero();
  Eigen::Matrix<double, 6, 24> b;
  double det_j;
  const Voigt s = d * eps;
  for_each_gauss_point([&](const Eigen::Vector3d& xi) {
    hex8_strain_displacement(x, xi, b, det_j);
    f.noalias() += b.transpose() * s * det_j;
  });
  return f;
}

Eigen::Matrix<double, 6, 24> hex8_mean_strain_displacement(const HexNodes& x) {
  Eigen::Matrix<double, 6, 24> mean = Eigen::Matrix<double, 6, 24>::Zero(), b;
  double det_j;
  for_each_gauss_point([&](const Eigen::Vector3d& xi) {
    hex8_strain_displacement(x, xi, b, det_j);
    mean += b;
  });
  return mean / 8.0;
}

Voigt hex8_mean_stress(const HexNodes& x, const Elasticity& d, const Voigt& eps,
                       const HexVector& u_e) {
  Voigt mean = Voigt::Zero();
  Eigen::Matrix<double, 6, 24> b;
  double det_j;
  for_each_gauss_point([&](const Eigen::Vector3d& xi) {
    hex8_strain_displacement(x, xi, b, det_j);
    mean += d * (b * u_e - eps);
  });
  return mean / 8.0;
}

HexVector hex8_internal_force(const HexNodes& x, const Elasticity& d, const Voigt& eps,
                              const HexVector& u_e) {
  HexVector r = HexVector::Zero();
  Eigen::Matrix<double, 6, 24> b;
  double det_j;
  for_each_gauss_point([&](const Eigen::Vector3d& xi) {
    hex8_strain_displacement(x, xi, b, det_j);
    r.noalias() += b.transpose() * (d * (b * u_e - eps)) * det_j;
  });
  return r;
}

double von_mises(const Voigt& s) {
  const double a = s[0] - s[1], b = s[1] - s[2], c = s[2] - s[0];
  return std::sqrt(0.5 * (a * a + b * b + c * c) + 3.0 * (s[3] * s[3] + s[4] * s[4] + s[5] * s[5]));
}

bool hex8_is_box(const HexNodes& x, Eigen::Vector3d& size) {
  size = x.row(6) - x.row(0);
  if (size.minCoeff() <= 0) return false;
  const double tol = 1e-9 * size.maxCoeff();
  for (int a = 0; a < 8; ++a)
    for (int j = 0; j < 3; ++j) {
      const double expected = x(0, j) + (kSign[a][j] > 0 ? size[j] : 0.0);
      if (std::abs(x(a, j) - expected) > tol) return false;
    }
  return true;
}

}  // namespace flare::am
