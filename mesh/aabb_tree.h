// Axis-aligned bounding-box tree (BVH) over triangles for nearest-triangle queries.
//
// Build: top-down, split at the median centroid along the widest centroid extent (nth_element),
// leaves of at most 4 triangles; O(T log T). Nodes are stored depth-first in one array (left child
// follows its parent), and triangle corners are copied in tree order so a leaf reads contiguous
// memory. Query: depth-first, nearer child first, pruning boxes farther than the best hit;
// O(log T) for points near a well-shaped surface. Queries are const and thread-safe.
//
// Ties: closest() returns the lowest triangle index among triangles at exactly the same distance,
// so the answer depends only on the geometry and the triangle order, not on traversal order;
// closest_all() returns every triangle within a tolerance of the nearest.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "mesh/boundary.h"

namespace flare::mesh {

class AabbTree {
 public:
  /// @param[in] points     #V by 3
  /// @param[in] triangles  #T by 3 indices into points (T > 0)
  AabbTree(const Points& points, const Triangles& triangles);

  struct Hit {
    double sqr_distance;      ///< squared distance to the closest point
    std::int64_t triangle;    ///< row of `triangles` holding the closest point
    Eigen::Vector3d closest;  ///< the closest point on that triangle
  };
  /// Nearest triangle to q.
  Hit closest(const Eigen::Vector3d& q) const;
  /// Every triangle whose distance to q is within `tolerance` (> 0) of the smallest, in triangle
  /// index order, into `out` (cleared first). Ties are common (a voxel part's edge nodes touch
  /// two faces, its interior points are often equally far from two walls), and rounding at the
  /// level of the coordinates, as when the part is moved on the plate, must not break them.
  void closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out) const;

  std::int64_t num_triangles() const { return std::int64_t(m_ids.size()); }

  // Read access to the hierarchy, for other queries over the same tree (mesh/winding_number.h).
  struct Node {
    double lo[3], hi[3];
    std::int64_t begin, end;  ///< triangle range in tree order (every node, leaves and inner)
    std::int64_t right;       ///< right child node (inner nodes), -1 for a leaf; left child is this + 1
  };
  /// Depth-first; node 0 is the root.
  const std::vector<Node>& nodes() const { return m_nodes; }
  /// Corners of the triangle at tree position i: 9 doubles from 9 i (a, b, c; x y z each).
  const double* tree_corners(std::int64_t i) const { return m_corners.data() + 9 * i; }
  /// Input row of the triangle at tree position i.
  std::int64_t tree_id(std::int64_t i) const { return m_ids[std::size_t(i)]; }

 private:
  std::int64_t build(std::int64_t begin, std::int64_t end, std::vector<Eigen::Vector3d>& centroids);

  std::vector<Node> m_nodes;
  std::vector<std::int64_t> m_ids;  ///< tree order -> input triangle row
  std::vector<double> m_corners;    ///< tree order, 9 doubles per triangle
};

/// Closest point to p on triangle (a, b, c) (Ericson, Real-Time Collision Detection 5.1.5).
Eigen::Vector3d closest_point_on_triangle(const Eigen::Vector3d& p, const Eigen::Vector3d& a,
                                          const Eigen::Vector3d& b, const Eigen::Vector3d& c);

}  // namespace flare::mesh
