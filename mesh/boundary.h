// Boundary surface of a mesh as outward-oriented triangles (libigl style: free functions over
// Eigen arrays).
//
// Volume meshes: a face of a 3D cell is on the boundary when exactly one cell uses it (faces used
// by three or more cells, i.e. non-manifold meshes, are treated as interior). Quadratic cells use
// their corner vertices only (the boundary is the linear approximation of the curved face).
// Surface meshes (highest cell dimension 2): the surface cells themselves.
// Quads and polygons are split into triangles by a fan from their first vertex.
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <cstdint>

#include "mesh/mesh.h"

namespace flare::mesh {

using Triangles = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 3, Eigen::RowMajor>;

/// The boundary triangles of `mesh`, indices into mesh.points.
struct BoundarySurface {
  Triangles triangles;  ///< #T by 3, counter-clockwise seen from outside for volume meshes
  bool closed_volume = false;  ///< true when it bounds a volume mesh (inside/outside is defined)
};

/// Extracts the boundary. The order of the triangles follows (cell, local face), never point
/// numbering, so renumbering the points renumbers the indices but keeps the triangles and their
/// order. Throws InputError naming `source` when the mesh has no surface or volume cells.
BoundarySurface extract_boundary(const Mesh& mesh, const std::string& source = "mesh");

/// Unit normals of the triangles (#T by 3); zero rows for degenerate (zero-area) triangles.
Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> triangle_normals(
    const Points& points, const Triangles& triangles);

/// Total area of the triangles.
double surface_area(const Points& points, const Triangles& triangles);

}  // namespace flare::mesh
