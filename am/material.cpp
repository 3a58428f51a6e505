#include "am/material.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace flare::am {

namespace {
// E and nu are room-temperature handbook values. The inherent strains follow the usual
// calibrated pattern (in-plane contraction of a few 1e-3, about twice that along the build
// direction), scaled roughly with each alloy's thermal expansion x solidification range.
const std::vector<Material>& table() {
  static const std::vector<Material> materials = {
      {"ti64", 110e9, 0.31, Eigen::Vector3d(-0.005, -0.005, -0.010)},
      {"316l", 193e9, 0.30, Eigen::Vector3d(-0.006, -0.006, -0.012)},
      {"in718", 200e9, 0.29, Eigen::Vector3d(-0.005, -0.005, -0.011)},
      {"alsi10mg", 70e9, 0.33, Eigen::Vector3d(-0.007, -0.007, -0.013)},
  };
  return materials;
}
}  // namespace

std::vector<std::string> material_names() {
  std::vector<std::string> names;
  for (const Material& m : table()) names.push_back(m.name);
  return names;
}

Material material_by_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const Material& m : table())
    if (m.name == key) return m;
  std::string known;
  for (const std::string& n : material_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError(detail::concat("unknown material '", name, "': known materials are ", known));
}

}  // namespace flare::am
