// Internals of am/voxelize.cpp shared with am/voxelize_open.cpp (not a public interface).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "am/surface_repair.h"
#include "am/triangle_surface.h"
#include "am/voxel_grid.h"

namespace flare::am::detail {

/// A crossing of the +z ray through a voxel-centre column (i + nx j) with the surface at height z:
/// +1 where the ray enters (the triangle faces down), -1 where it leaves.
struct Hit {
  std::int64_t column;
  double z;
  int sign;
};

/// Every crossing of the voxel-centre columns of `g` with the triangles of `s`, sorted by column,
/// then z. A ray through an edge or a vertex crosses exactly one of the triangles there.
std::vector<Hit> column_crossings(const TriangleSurface& s, const VoxelGrid& g);

/// Surface with open edges: closes each hole with a cone C (the open edges joined to the centroid
/// of their corners), so that S + C is closed; then w_S = w_{S+C} − w_C at every voxel centre,
/// the first term counted exactly by column_crossings, the second summed over the few cone
/// triangles (mesh/winding_number.h). Solid where w_S >= 0.5; fills d's voxel counts; throws
/// InputError naming `source` when w_S stays below 0.75 (no inside). With more cone triangles
/// than surface triangles, or cone triangles whose xy boxes cover more columns than the grid has
/// voxels, it calls fill_by_winding_number instead (cheaper then).
void fill_open_surface(const TriangleSurface& s, VoxelGrid& g, SurfaceDefects& d,
                       const std::string& source);

/// The definition: the generalized winding number of `s` at every voxel centre (tree with
/// far-field expansions). Same outcome as fill_open_surface up to the expansion error, at
/// 50-700x its cost (docs/architecture.md).
void fill_by_winding_number(const TriangleSurface& s, VoxelGrid& g, SurfaceDefects& d,
                            const std::string& source);

}  // namespace flare::am::detail
