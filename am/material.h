// Materials for the LPBF inherent-strain simulation: isotropic elastic constants plus the
// anisotropic inherent (eigen)strain a deposited layer carries. The inherent strains are
// literature-order starting values (a few 1e-3, larger along the build direction); real use
// calibrates them against one measured part per machine and parameter set.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace flare::am {

struct Material {
  std::string name;
  double youngs_modulus;          ///< E, Pa
  double poisson_ratio;           ///< nu
  Eigen::Vector3d inherent_strain;  ///< (eps_x, eps_y, eps_z); negative = contraction
};

/// The material named `name` ("ti64", "316l", "in718", "alsi10mg"; case-insensitive).
/// Throws InputError listing the known names for anything else.
Material material_by_name(const std::string& name);

/// The known material names, in a fixed order.
std::vector<std::string> material_names();

}  // namespace flare::am
