// Voxelisation of a surface (an STL, or any surface mesh of triangles, quads, polygons or strips)
// onto a hexahedral voxel grid: a voxel is solid when its centre is inside.
//
// Inside: the surface is first repaired (am/surface_repair.h: duplicated, flipped and inverted
// pieces). Then:
//  - Closed (every edge's triangles pair up in opposite directions; non-manifold edges, touching
//    and overlapping shells allowed): the winding number is an integer everywhere and signed ray
//    crossings along +z, per column of voxel centres, count it exactly. Inside where it is >= 1.
//    For a clean closed 2-manifold this is ray parity, voxel for voxel.
//  - Open (gaps, holes): only the generalized winding number defines an inside; it is evaluated at
//    every voxel centre (mesh/winding_number.h) and the voxel is inside where it is >= 0.5. When it
//    stays below 0.75 everywhere the surface has no inside (an open sheet) and is refused.
// docs/architecture.md gives the measurements behind this split.
//
// Robustness of the ray crossings: a ray through an edge or a vertex is counted exactly once by a
// top-left rule on edge functions that both triangles of an edge compute bit-identically (the edge
// is evaluated in one canonical direction), so no jitter is needed and the count never breaks on
// tessellated grids whose edges line up with voxel centres.
#pragma once

#include <cstdint>
#include <string>

#include "am/surface_repair.h"
#include "am/triangle_surface.h"
#include "am/voxel_grid.h"
#include "mesh/mesh.h"

namespace flare::am {

struct VoxelizeOptions {
  double voxel = 0;                       ///< voxel edge length, in the surface's units
  std::int64_t max_nodes = 20'000'000;    ///< refuse (before allocating) estimates above this
  /// Decide inside by the generalized winding number even for a closed surface (measurements and
  /// tests of the two inside tests against each other).
  bool force_winding_number = false;
};

/// Voxelises the surface; the grid covers its bounding box (origin = box min). Throws InputError
/// for: empty or flat geometry, a surface without inside (an open sheet), voxel <= 0, and a voxel
/// size whose estimated node count exceeds max_nodes (the message gives the estimate and a voxel
/// size that fits). `defects`, when given, receives what was repaired or tolerated (the caller
/// warns when defects->any()).
VoxelGrid voxelize(const mesh::Mesh& surface, const VoxelizeOptions& opts, const std::string& source,
                   SurfaceDefects* defects = nullptr);

}  // namespace flare::am
