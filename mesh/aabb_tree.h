// Axis-aligned bounding-box tree (BVH) over triangles for nearest-triangle queries.
//
// Build: top-down, split at the median centroid along the widest centroid extent (nth_element),
// leaves of at most 4 triangles; O(T log T), large subtrees built as parallel tasks (the node
// count of a subtree follows from its size, so each task knows its index range). Nodes are
// stored depth-first in one array (left child follows its parent) with float boxes rounded
// outward, and triangle corners are copied in tree order so a leaf reads contiguous memory.
// Query: depth-first, nearer child first, pruning boxes farther than the best hit;
// O(log T) for points near a well-shaped surface. Queries are const and thread-safe.
//
// Ties: closest() returns the lowest triangle index among triangles at exactly the same (computed)
// squared distance. Pruning keeps every box within a rounding margin of the best hit, so the answer
// is the least (squared distance, index) over all triangles: it depends only on the geometry and
// the triangle order, not on traversal order nor on a search hint. closest_all() returns every
// triangle within a tolerance of the nearest.
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>
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
  /// The same answer, searched with triangle `hint` (a row of `triangles`, or -1) as the first
  /// candidate: the nearest triangle of a neighbouring query point makes a tight first bound, so
  /// most of the tree is pruned at once. Only boxes strictly farther than the best hit are
  /// pruned, so the result (ties included) does not depend on the hint.
  Hit closest(const Eigen::Vector3d& q, std::int64_t hint) const;
  /// Every triangle whose distance to q is within `tolerance` (> 0) of the smallest, in triangle
  /// index order, into `out` (cleared first). Ties are common (a voxel part's edge nodes touch
  /// two faces, its interior points are often equally far from two walls), and rounding at the
  /// level of the coordinates, as when the part is moved on the plate, must not break them. Like
  /// closest(), independent of the traversal order.
  void closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out) const;
  /// The same set, searched with the distance to triangle `hint` (a row of `triangles`, or -1;
  /// e.g. a neighbouring query's nearest) as the first bound. The nearest is never farther than
  /// the hint, so every triangle within the tolerance of it is still reached: the set does not
  /// depend on the hint (6-14% less time for the features of voxel parts, docs/architecture.md).
  void closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out,
                   std::int64_t hint) const;

  std::int64_t num_triangles() const { return std::int64_t(m_ids.size()); }

  // Read access to the hierarchy, for other queries over the same tree (mesh/winding_number.h).
  // 32 bytes: two nodes a cache line. The float box is rounded outward, so it contains the exact
  // box of its triangles.
  struct Node {
    float lo[3], hi[3];
    std::int32_t first;  ///< leaf: first triangle in tree order; inner: right child (left:
                         ///< this + 1)
    std::int32_t count;  ///< leaf: number of triangles (>= 1); inner: 0
  };
  /// Depth-first; node 0 is the root; children have larger indices than their parent. A leaf
  /// holds tree positions [first, first + count); an inner node's triangles are those of its
  /// subtree, a contiguous range of tree positions.
  const std::vector<Node>& nodes() const { return m_nodes; }
  /// Corners of the triangle at tree position i: 9 doubles from 9 i (a, b, c; x y z each).
  const double* tree_corners(std::int64_t i) const { return m_corners.data() + 9 * i; }
  /// Input row of the triangle at tree position i.
  std::int64_t tree_id(std::int64_t i) const { return m_ids[std::size_t(i)]; }

 private:
  /// Builds the subtree of tree-order triangles [begin, end) into node `index` and the nodes after
  /// it; returns its exact bounding box. Runs as OpenMP tasks inside a parallel region.
  Eigen::AlignedBox3d build(std::int64_t begin, std::int64_t end, std::int64_t index,
                            std::vector<Eigen::Vector3d>& centroids);

  std::vector<Node> m_nodes;
  std::vector<std::int64_t> m_ids;  ///< tree order -> input triangle row
  std::vector<std::int64_t> m_pos;  ///< input triangle row -> tree order
  std::vector<double> m_corners;    ///< tree order, 9 doubles per triangle
  double m_slack = 0;               ///< pruning margin that absorbs rounding (see closest())
};

/// Closest point to p on triangle (a, b, c) (Ericson, Real-Time Collision Detection 5.1.5).
Eigen::Vector3d closest_point_on_triangle(const Eigen::Vector3d& p, const Eigen::Vector3d& a,
                                          const Eigen::Vector3d& b, const Eigen::Vector3d& c);

}  // namespace flare::mesh
