// The trilinear hexahedron (hex8) for small-strain isotropic elasticity with an eigenstrain:
// shape-function derivatives, element stiffness, eigenstrain load, stresses and internal forces,
// all with 2x2x2 Gauss integration (the same rule as CalculiX's C3D8, so the two agree to
// solver precision on the same mesh).
//
// Conventions: nodes in VTK_HEXAHEDRON order (0..3 bottom face counter-clockwise seen from +z,
// 4..7 above them); element DOFs node-major [u0x u0y u0z u1x ...]; Voigt strain/stress order
// (xx, yy, zz, xy, yz, zx) with engineering shear strains.
#pragma once

#include <Eigen/Core>

namespace flare::am {

using HexNodes = Eigen::Matrix<double, 8, 3, Eigen::RowMajor>;  ///< #8 by 3 node coordinates
using HexMatrix = Eigen::Matrix<double, 24, 24>;
using HexVector = Eigen::Matrix<double, 24, 1>;
using Voigt = Eigen::Matrix<double, 6, 1>;
using Elasticity = Eigen::Matrix<double, 6, 6>;

/// Isotropic elasticity matrix for engineering shear strains.
Elasticity isotropic_elasticity(double youngs_modulus, double poisson_ratio);

/// B (6 by 24) and det J at the natural coordinate xi in [-1, 1]^3. Throws InputError when the
/// element is inverted or degenerate (det J <= 0): a VTK node-ordering problem in the file.
void hex8_strain_displacement(const HexNodes& x, const Eigen::Vector3d& xi,
                              Eigen::Matrix<double, 6, 24>& b, double& det_j);

/// K_e = sum_g B^T D B det J.
HexMatrix hex8_stiffness(const HexNodes& x, const Elasticity& d);

/// f_e = sum_g B^T D eps* det J: the nodal forces an eigenstrain eps* induces.
HexVector hex8_eigenstrain_load(const HexNodes& x, const Elasticity& d, const Voigt& eps);

/// B averaged over the 2x2x2 Gauss points (6 by 24): the element's mean strain is B_mean u_e.
Eigen::Matrix<double, 6, 24> hex8_mean_strain_displacement(const HexNodes& x);

/// Mean over the Gauss points of sigma = D (B u_e - eps*).
Voigt hex8_mean_stress(const HexNodes& x, const Elasticity& d, const Voigt& eps,
                       const HexVector& u_e);

/// r_e = sum_g B^T D (B u_e - eps*) det J: the element's internal nodal forces.
HexVector hex8_internal_force(const HexNodes& x, const Elasticity& d, const Voigt& eps,
                              const HexVector& u_e);

/// sqrt(3/2 s:s) for the deviatoric part s of a Voigt stress.
double von_mises(const Voigt& s);

/// Whether the nodes form an axis-aligned box; then `size` gets its edge lengths. Such elements
/// share one stiffness matrix per size, which makes voxel-mesh assembly cheap.
bool hex8_is_box(const HexNodes& x, Eigen::Vector3d& size);

}  // namespace flare::am
