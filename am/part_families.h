// The table of procedural part families behind make_part (am/geometry.h). Each builder draws its
// parameters from the generator, records them in `params` (mm, degrees, counts) and returns the
// shape standing on the plate z = 0.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

using FamilyBuilder = Shape (*)(Rng& rng, nlohmann::json& params);

struct PartFamily {
  const char* name;
  const char* description;
  FamilyBuilder build;
};

/// All families, "composite" last (it combines the others).
const std::vector<PartFamily>& family_table();

}  // namespace flare::am
