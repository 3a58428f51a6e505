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
#include <string>
#include <vector>

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

/// Distance to the boundary and the normal of the nearest boundary triangle at every point: the
/// boundary_distance and boundary_normal features of mesh/features.h, unscaled.
struct BoundaryDistance {
  /// #N, signed: negative inside a volume mesh, zero on its boundary, positive outside (points no
  /// volume cell uses take the side of the nearest face's plane); unsigned on a surface mesh.
  std::vector<double> distance;
  /// #N by 3, outward unit normal of the nearest boundary triangle; among tied faces see
  /// boundary_distance()'s tie_tolerance.
  Points normal;
};

/// extract_boundary(), then the nearest boundary triangle of every point. Threaded; the result
/// does not depend on the thread count. Throws what extract_boundary throws.
/// @param[in] tie_tolerance  0: the normal of the lowest-index nearest triangle (exact ties only;
///   feature recipe version 1, each query starts from its neighbouring point's answer). > 0: every
///   face within it of the nearest counts as nearest (AabbTree::closest_all) and the normal is the
///   normalised sum of their distinct normals, zero where they cancel (recipe version 2); the
///   distance is the nearest's either way.
BoundaryDistance boundary_distance(const Mesh& mesh, const std::string& source = "mesh",
                                   double tie_tolerance = 0.0);

/// The tie tolerance of feature recipe version 2: 1e-6 of the diagonal of the points' bounding
/// box. That is far above the rounding of coordinates (float32 files included) for parts within a
/// metre of the origin, and far below any geometric difference that matters (a voxel is ~1e-2 of
/// a part).
double tie_tolerance(const Points& points);

/// Unit normals of the triangles (#T by 3); zero rows for degenerate (zero-area) triangles.
Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> triangle_normals(
    const Points& points, const Triangles& triangles);

/// Total area of the triangles.
double surface_area(const Points& points, const Triangles& triangles);

}  // namespace flare::mesh
