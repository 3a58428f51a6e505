// Voxelising a closed surface at the voxel size that gives a wanted node count: how `predict`
// meets a model's training range with a user's STL. Uses voxelize() as it is (am/voxelize.h).
#pragma once

#include <cstdint>
#include <string>

#include "am/voxel_grid.h"
#include "mesh/mesh.h"

namespace flare::am {

struct VoxelFit {
  double voxel = 0;        ///< the voxel size of `grid`
  std::int64_t nodes = 0;  ///< node count of voxel_mesh(grid) (floating islands dropped)
  VoxelGrid grid;          ///< voxelize()'s grid at that size, islands still in it
};

/// Voxelises `surface` at the voxel size in [min_voxel, max_voxel] whose hex mesh has a node
/// count nearest `target_nodes` (relative distance, |log(nodes/target)|): a first guess from the
/// enclosed volume and area (nodes ~ V/h^3 + A/(2h^2)), then up to 8 corrections h *= cbrt(n/target)
/// until the count is within 10%. When the target needs a voxel outside the range the result is
/// at the bound, and its node count says how far off it is. Deterministic.
/// Throws what voxelize() throws (InputError naming `source`: open, flat or empty surface, too
/// many nodes), and InputError for a target below 8 or an empty or non-positive voxel range.
VoxelFit voxelize_for_nodes(const mesh::Mesh& surface, std::int64_t target_nodes, double min_voxel,
                            double max_voxel, const std::string& source);

}  // namespace flare::am
