// Checks every procedural part family's tests make (csg, pattern, plate): the same seed gives the
// same part, and a part of the dataset's node range is one solid without trapped powder; and the
// generator make_part hands a family, to draw designs without voxels.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "am/geometry.h"
#include "am/rng.h"
#include "tests/am/voxel_topology.h"

namespace flare::am::test {

/// The generator make_part gives `family`'s builder on its first attempt at `seed`.
inline Rng first_attempt(const std::string& family, std::uint64_t seed) {
  return Rng(sub_seed(seed ^ hash_name(family), 0));
}

/// make_part(family, s) twice gives the same parameters and voxels; s + 1 other parameters.
inline void expect_same_seed_same_part(const std::string& family, std::uint64_t s) {
  const PartSpec a = make_part(family, s), b = make_part(family, s), c = make_part(family, s + 1);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.grid.solid, b.grid.solid);
  EXPECT_NE(a.params["parameters"], c.params["parameters"]);
}

/// In the node range, one face-connected solid, no enclosed cavity; nothing dropped as islands,
/// or at most `dropped_share` of the voxels (slivers a cut leaves on a slanted wall).
inline void expect_one_solid_in_range(const PartSpec& p, const PartOptions& opts, double dropped_share = 0) {
  EXPECT_GE(p.nodes, opts.min_nodes);
  EXPECT_LE(p.nodes, opts.max_nodes);
  EXPECT_LE(p.params.value("dropped_island_voxels", std::int64_t(0)), dropped_share * double(p.grid.count_solid()));
  std::vector<std::int32_t> labels;
  EXPECT_EQ(label_components(p.grid, labels), 1);
  EXPECT_EQ(enclosed_cavities(p.grid), 0);  // no trapped powder
}

}  // namespace flare::am::test
