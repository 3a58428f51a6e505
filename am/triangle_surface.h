// A surface as a welded triangle soup: what `am voxelize` reads from an STL (or any surface mesh of
// triangles, quads, polygons or strips), before it is repaired (am/surface_repair.h) and voxelised.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mesh/mesh.h"

namespace flare::am {

/// Welded triangle soup: vertices merged by exact coordinates, degenerate triangles dropped.
struct TriangleSurface {
  std::vector<Eigen::Vector3d> vertices;
  std::vector<std::array<std::int32_t, 3>> triangles;
  double signed_volume() const;  ///< divergence theorem: positive for an outward closed surface
  double volume() const;         ///< |signed_volume()|
  double area() const;
};

/// Extracts the triangles of `surface`'s 2D cells (triangle, quad, pixel, polygon, strip) and
/// welds them. Throws InputError (prefixed by `source`) for a mesh with 3D cells or no surface.
TriangleSurface triangle_surface(const mesh::Mesh& surface, const std::string& source);

}  // namespace flare::am
