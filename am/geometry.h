// Procedural LPBF part families with seeded random parameters (the classic distortion
// benchmarks and more), sampled on a voxel grid whose size is chosen so the hex mesh lands in a
// node-count range. Same (family, seed, options) -> same part, on every platform.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "am/voxel_grid.h"

namespace flare::am {

struct PartOptions {
  std::int64_t min_nodes = 5000;   ///< node range of the hex mesh (ignored when voxel > 0)
  std::int64_t max_nodes = 50000;
  double voxel = 0;                ///< fixed voxel size (mm); 0 = choose it from the node range
  int max_attempts = 64;           ///< parameter redraws before giving up on the node range
};

struct PartSpec {
  std::string family;
  std::uint64_t seed = 0;
  VoxelGrid grid;             ///< plate-connected solid (islands already removed)
  std::int64_t nodes = 0;     ///< node count of voxel_mesh(grid)
  nlohmann::json params;      ///< {"family","seed","voxel","nodes","attempt", family parameters}
};

/// Parses a node range "MIN..MAX" (e.g. "5000..50000") into opts; InputError naming `option`
/// otherwise.
void parse_node_range(const std::string& text, const std::string& option, PartOptions& opts);

/// The family names, in a fixed order: the original 14 ("composite" last of them), then the ones
/// added later (csg, sweep, shell, pattern).
const std::vector<std::string>& part_families();

/// True for the families added after the first 14 (csg, sweep, shell, pattern): `am dataset`
/// draws them in a second step so that adding one keeps the other samples' plans (see
/// plan_sample). False for unknown names.
bool family_added_later(const std::string& name);

/// One line per family saying what it is (for `am part --family list`).
const std::vector<std::pair<std::string, std::string>>& part_family_descriptions();

/// Builds part `family` from `seed`. Parameters are drawn from the seed; when the node range
/// cannot be met (or features would be thinner than two voxels, one in the second half of the
/// attempts, or more than 5% of the volume fell off as islands), parameters are redrawn from
/// (seed, attempt). Throws InputError for an unknown
/// family (listing the known ones) or an impossible node range, and when no attempt succeeds.
PartSpec make_part(const std::string& family, std::uint64_t seed, const PartOptions& opts = {});

}  // namespace flare::am
