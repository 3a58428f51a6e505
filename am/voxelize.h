// Voxelisation of a closed triangle surface (an STL, or any surface mesh of triangles, quads,
// polygons or strips) onto a hexahedral voxel grid: a voxel is solid when its centre is inside,
// by ray parity along +z per column of voxel centres.
//
// Robustness: a ray through an edge or a vertex is counted exactly once by a top-left rule on
// edge functions that both triangles of an edge compute bit-identically (the edge is evaluated in
// one canonical direction), so no jitter is needed and parity never breaks on tessellated grids
// whose edges line up with voxel centres.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "am/voxel_grid.h"
#include "mesh/mesh.h"

namespace flare::am {

/// Welded triangle soup: vertices merged by exact coordinates, degenerate triangles dropped.
struct TriangleSurface {
  std::vector<Eigen::Vector3d> vertices;
  std::vector<std::array<std::int32_t, 3>> triangles;
  double volume() const;  ///< enclosed volume (divergence theorem; orientation-independent magnitude)
  double area() const;
};

/// Extracts the triangles of `surface`'s 2D cells (triangle, quad, pixel, polygon, strip) and
/// welds them. Throws InputError (prefixed by `source`) for a mesh with 3D cells or no surface.
TriangleSurface triangle_surface(const mesh::Mesh& surface, const std::string& source);

/// Throws InputError (prefixed by `source`) unless every edge is shared by exactly two triangles
/// that traverse it in opposite directions (closed, manifold, consistently oriented); the message
/// counts the bad edges and gives the position of one.
void check_closed(const TriangleSurface& s, const std::string& source);

struct VoxelizeOptions {
  double voxel = 0;                       ///< voxel edge length, in the surface's units
  std::int64_t max_nodes = 20'000'000;    ///< refuse (before allocating) estimates above this
};

/// Voxelises the closed surface; the grid covers its bounding box (origin = box min). Throws
/// InputError for: non-closed surfaces, empty or flat geometry, voxel <= 0, and a voxel size whose
/// estimated node count exceeds max_nodes (the message gives the estimate and a voxel size that
/// fits).
VoxelGrid voxelize(const mesh::Mesh& surface, const VoxelizeOptions& opts, const std::string& source);

}  // namespace flare::am
