#include "mesh/winding_number.h"

#include <Eigen/Geometry>
#include <cmath>
#include <numbers>

#include "common/error.h"

namespace flare::mesh {

using Eigen::Matrix3d;
using Eigen::Vector3d;

namespace {
constexpr double kInv4Pi = 1.0 / (4.0 * std::numbers::pi);
}  // namespace

double triangle_winding(const Vector3d& a, const Vector3d& b, const Vector3d& c,
                        const Vector3d& q) {
  const Vector3d x = a - q, y = b - q, z = c - q;
  const double det = x.dot(y.cross(z));
  // In the plane (on or beside the triangle) the solid angle is 0 off the triangle and ±2π on it,
  // by the sign of a zero: take 0, so the value does not depend on rounding.
  if (det == 0) return 0.0;
  const double lx = x.norm(), ly = y.norm(), lz = z.norm();
  const double den = lx * ly * lz + x.dot(y) * lz + y.dot(z) * lx + z.dot(x) * ly;
  return 2.0 * std::atan2(det, den) * kInv4Pi;
}

WindingNumber::WindingNumber(const Points& points, const Triangles& triangles, double beta)
    : m_tree(points, triangles), m_beta2(beta * beta) {
  FLARE_CHECK(beta > 0, "WindingNumber: beta must be positive");
  const auto& nodes = m_tree.nodes();
  const std::int64_t num_nodes = std::int64_t(nodes.size());
  // A node's triangles are the tree positions [begin, end) of its subtree: a leaf's own, an inner
  // node's from its first (left, k + 1) to its last (right) child. Children follow their parent,
  // so one backward pass fills them.
  std::vector<std::int64_t> begin(static_cast<std::size_t>(num_nodes)),
      end(static_cast<std::size_t>(num_nodes));
  for (std::int64_t k = num_nodes - 1; k >= 0; --k) {
    const AabbTree::Node& node = nodes[std::size_t(k)];
    const std::size_t i = std::size_t(k);
    if (node.count > 0) {
      begin[i] = node.first;
      end[i] = std::int64_t(node.first) + node.count;
    } else {
      begin[i] = begin[i + 1];
      end[i] = end[std::size_t(node.first)];
    }
  }
  m_expansions.resize(nodes.size());
  // Each node sums its own triangles (O(T log T) in all): no moment shifting between levels.
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t k = 0; k < num_nodes; ++k) {
    const AabbTree::Node& node = nodes[std::size_t(k)];
    const std::int64_t node_begin = begin[std::size_t(k)], node_end = end[std::size_t(k)];
    Expansion e;
    e.n.setZero();
    e.m1.setZero();
    for (auto& m : e.m2) m.setZero();
    Vector3d weighted = Vector3d::Zero();
    double area = 0;
    for (std::int64_t i = node_begin; i < node_end; ++i) {
      const double* t = m_tree.tree_corners(i);
      const Vector3d a(t[0], t[1], t[2]), b(t[3], t[4], t[5]), c(t[6], t[7], t[8]);
      const double ta = 0.5 * (b - a).cross(c - a).norm();
      weighted += ta * (a + b + c) / 3.0;
      area += ta;
    }
    e.centre = Vector3d::Zero();
    if (area > 0) {
      e.centre = weighted / area;
    } else {  // all degenerate: their moments are zero anyway; any centre in the box will do
      for (int d = 0; d < 3; ++d) e.centre[d] = 0.5 * (node.lo[d] + node.hi[d]);
    }
    e.radius2 = 0;
    for (std::int64_t i = node_begin; i < node_end; ++i) {
      const double* t = m_tree.tree_corners(i);
      const Vector3d v[3] = {{t[0], t[1], t[2]}, {t[3], t[4], t[5]}, {t[6], t[7], t[8]}};
      const Vector3d an = 0.5 * (v[1] - v[0]).cross(v[2] - v[0]);  // area · normal
      const Vector3d centroid = (v[0] + v[1] + v[2]) / 3.0;
      const Vector3d d = centroid - e.centre;
      // ∫(x − centre)(x − centre)ᵀ dA / area = d dᵀ + the triangle's covariance, which for a
      // uniform triangle is (1/12) Σ (v − centroid)(v − centroid)ᵀ.
      Matrix3d second = d * d.transpose();
      for (const Vector3d& p : v) {
        second += (p - centroid) * (p - centroid).transpose() / 12.0;
        e.radius2 = std::max(e.radius2, (p - e.centre).squaredNorm());
      }
      e.n += an;
      e.m1 += an * d.transpose();
      for (int c = 0; c < 3; ++c) e.m2[std::size_t(c)] += 0.5 * an[c] * second;
    }
    m_expansions[std::size_t(k)] = e;
  }
}

double WindingNumber::operator()(const Vector3d& q) const {
  const auto& nodes = m_tree.nodes();
  double w = 0;
  std::int64_t stack[128];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const std::int64_t k = stack[--top];
    const AabbTree::Node& node = nodes[std::size_t(k)];
    if (node.count > 0) {
      for (std::int64_t i = node.first; i < std::int64_t(node.first) + node.count; ++i) {
        const double* t = m_tree.tree_corners(i);
        w += triangle_winding({t[0], t[1], t[2]}, {t[3], t[4], t[5]}, {t[6], t[7], t[8]}, q);
      }
      continue;
    }
    const Expansion& e = m_expansions[std::size_t(k)];
    const Vector3d r = e.centre - q;
    const double r2 = r.squaredNorm();
    if (r2 > m_beta2 * e.radius2) {
      // Σ_t A_t · F(r + d_t) with F(r) = r / |r|³, Taylor-expanded to second order in d_t.
      const double inv2 = 1.0 / r2, inv3 = std::sqrt(inv2) * inv2, inv5 = inv3 * inv2,
                   inv7 = inv5 * inv2;
      double t0 = e.n.dot(r) * inv3;
      double t1 = e.m1.trace() * inv3 - 3.0 * r.dot(e.m1 * r) * inv5;
      double contract = 0, cubic = 0;
      for (int i = 0; i < 3; ++i) {
        const Matrix3d& m = e.m2[std::size_t(i)];
        contract += 2.0 * m.row(i).dot(r) + r[i] * m.trace();
        cubic += r[i] * r.dot(m * r);
      }
      const double t2 = -3.0 * contract * inv5 + 15.0 * cubic * inv7;
      w += (t0 + t1 + t2) * kInv4Pi;
      continue;
    }
    FLARE_CHECK(top + 2 <= 128, "WindingNumber: stack overflow (tree too deep)");
    stack[top++] = node.first;
    stack[top++] = k + 1;
  }
  return w;
}

double WindingNumber::exact(const Vector3d& q) const {
  double w = 0;
  for (std::int64_t i = 0; i < m_tree.num_triangles(); ++i) {
    const double* t = m_tree.tree_corners(i);
    w += triangle_winding({t[0], t[1], t[2]}, {t[3], t[4], t[5]}, {t[6], t[7], t[8]}, q);
  }
  return w;
}

}  // namespace flare::mesh
