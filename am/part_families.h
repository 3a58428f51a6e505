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
  /// make_part keeps only the largest face-connected piece (the rest counts as islands): for
  /// families whose cuts and fine details can leave slivers standing beside the part.
  bool one_solid = false;
  /// Added after the first 14 families: `am dataset` draws it in a second step, so that the
  /// samples of the other families keep their plans when the list gains it (see plan_sample).
  bool added_later = false;
};

/// All families: the first 14 in their original order ("composite", which combines the ones
/// before it, 14th), then the families added later.
const std::vector<PartFamily>& family_table();

}  // namespace flare::am
