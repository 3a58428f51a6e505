// Generalized winding number of a triangle soup (Jacobson, Kavan, Sorkine-Hornung 2013): the sum of
// the signed solid angles of the triangles seen from a point, over 4π. For a closed, outward
// oriented surface it is 1 inside and 0 outside; for a surface with holes, gaps, duplicated or
// overlapping pieces it degrades gracefully (near 1 deep inside, 0.5 across a hole), so
// "inside where w >= 0.5" needs no watertight 2-manifold.
//
// Fast evaluation (Barill, Dickson, Schmidt, Levin, Jacobson 2018, "Fast winding numbers for
// soups and clouds"): an AabbTree over the triangles; each node stores the Taylor expansion, to
// second order, of its triangles' dipole field about their area-weighted centroid. A query uses
// the expansion of a node whose centre is farther than `beta` times the node's radius and opens
// the node otherwise; leaves are summed exactly. With beta = 2 the error is ~1e-3 of a node's
// contribution, far below what a 0.5 threshold needs (tests/mesh/test_winding_number.cpp
// measures it against the exact sum).
#pragma once

#include <Eigen/Core>
#include <array>
#include <vector>

#include "mesh/aabb_tree.h"

namespace flare::mesh {

/// Signed solid angle of triangle (a, b, c) seen from q, divided by 4π, in [-1/2, 1/2] (van
/// Oosterom & Strackee 1983). Positive when the triangle, counter-clockwise, faces away from q.
/// 0 when q lies in the triangle's plane (on the triangle the value is undefined: the surface's
/// own contribution there is taken as 0, so a point on a closed surface gets 1/2).
double triangle_winding(const Eigen::Vector3d& a, const Eigen::Vector3d& b,
                        const Eigen::Vector3d& c, const Eigen::Vector3d& q);

class WindingNumber {
 public:
  /// @param[in] points     #V by 3
  /// @param[in] triangles  #T by 3 indices into points (T > 0), oriented
  /// @param[in] beta       far-field criterion: expansion used beyond beta * node radius
  WindingNumber(const Points& points, const Triangles& triangles, double beta = 2.0);

  /// Approximate winding number at q (tree with far-field expansions). Thread-safe.
  double operator()(const Eigen::Vector3d& q) const;
  /// Exact winding number at q: the sum over every triangle, O(T).
  double exact(const Eigen::Vector3d& q) const;

 private:
  struct Expansion {
    Eigen::Vector3d centre;      ///< area-weighted centroid of the node's triangles
    double radius2;              ///< squared distance from centre to the farthest corner
    Eigen::Vector3d n;           ///< Σ area·normal (the dipole moment)
    Eigen::Matrix3d m1;          ///< Σ area·normal ⊗ (centroid − centre)
    std::array<Eigen::Matrix3d, 3> m2;  ///< [i](j, k): ½ Σ area·normal_i ∫(x − centre)_j (x − centre)_k / area
  };
  AabbTree m_tree;
  std::vector<Expansion> m_expansions;  ///< per tree node
  double m_beta2;
};

}  // namespace flare::mesh
