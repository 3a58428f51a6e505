#include "mesh/aabb_tree.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace flare::mesh {

namespace {
constexpr std::int64_t kLeafSize = 4;

double box_sqr_distance(const double* lo, const double* hi, const Eigen::Vector3d& q) {
  double d2 = 0;
  for (int k = 0; k < 3; ++k) {
    const double d = q[k] < lo[k] ? lo[k] - q[k] : (q[k] > hi[k] ? q[k] - hi[k] : 0.0);
    d2 += d * d;
  }
  return d2;
}
}  // namespace

Eigen::Vector3d closest_point_on_triangle(const Eigen::Vector3d& p, const Eigen::Vector3d& a,
                                          const Eigen::Vector3d& b, const Eigen::Vector3d& c) {
  const Eigen::Vector3d ab = b - a, ac = c - a, ap = p - a;
  const double d1 = ab.dot(ap), d2 = ac.dot(ap);
  if (d1 <= 0 && d2 <= 0) return a;
  const Eigen::Vector3d bp = p - b;
  const double d3 = ab.dot(bp), d4 = ac.dot(bp);
  if (d3 >= 0 && d4 <= d3) return b;
  const double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) return a + (d1 / (d1 - d3)) * ab;
  const Eigen::Vector3d cp = p - c;
  const double d5 = ab.dot(cp), d6 = ac.dot(cp);
  if (d6 >= 0 && d5 <= d6) return c;
  const double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) return a + (d2 / (d2 - d6)) * ac;
  const double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0)
    return b + ((d4 - d3) / ((d4 - d3) + (d5 - d6))) * (c - b);
  const double denom = va + vb + vc;
  if (!(denom > 0)) return a;  // degenerate (zero-area) triangle: its corners are still valid
  return a + ab * (vb / denom) + ac * (vc / denom);
}

AabbTree::AabbTree(const Points& points, const Triangles& triangles) {
  const std::int64_t nt = triangles.rows();
  FLARE_CHECK(nt > 0, "AabbTree needs at least one triangle");
  std::vector<Eigen::Vector3d> centroids(nt);
  for (std::int64_t t = 0; t < nt; ++t)
    centroids[t] = (points.row(triangles(t, 0)) + points.row(triangles(t, 1)) +
                    points.row(triangles(t, 2))).transpose() / 3.0;
  m_ids.resize(nt);
  std::iota(m_ids.begin(), m_ids.end(), 0);
  m_corners.resize(9 * nt);
  m_nodes.reserve(2 * (nt / kLeafSize + 1));
  // Corners first (input order); build() needs them for the boxes, then they are permuted.
  std::vector<double> input(9 * nt);
  for (std::int64_t t = 0; t < nt; ++t)
    for (int v = 0; v < 3; ++v)
      for (int k = 0; k < 3; ++k) input[9 * t + 3 * v + k] = points(triangles(t, v), k);
  m_corners.swap(input);
  build(0, nt, centroids);
  for (std::int64_t i = 0; i < nt; ++i)
    std::copy_n(m_corners.data() + 9 * m_ids[i], 9, input.data() + 9 * i);
  m_corners.swap(input);
}

std::int64_t AabbTree::build(std::int64_t begin, std::int64_t end,
                             std::vector<Eigen::Vector3d>& centroids) {
  const std::int64_t index = std::int64_t(m_nodes.size());
  m_nodes.push_back({});
  Node node{};
  for (int k = 0; k < 3; ++k) {
    node.lo[k] = std::numeric_limits<double>::infinity();
    node.hi[k] = -std::numeric_limits<double>::infinity();
  }
  Eigen::Vector3d clo = Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity());
  Eigen::Vector3d chi = -clo;
  for (std::int64_t i = begin; i < end; ++i) {
    const double* c = m_corners.data() + 9 * m_ids[i];  // still input order here
    for (int v = 0; v < 3; ++v)
      for (int k = 0; k < 3; ++k) {
        node.lo[k] = std::min(node.lo[k], c[3 * v + k]);
        node.hi[k] = std::max(node.hi[k], c[3 * v + k]);
      }
    clo = clo.cwiseMin(centroids[m_ids[i]]);
    chi = chi.cwiseMax(centroids[m_ids[i]]);
  }
  node.begin = begin;
  node.end = end;
  node.right = -1;
  if (end - begin > kLeafSize) {
    int axis = 0;
    (chi - clo).maxCoeff(&axis);
    const std::int64_t mid = begin + (end - begin) / 2;
    std::nth_element(m_ids.begin() + begin, m_ids.begin() + mid, m_ids.begin() + end,
                     [&](std::int64_t a, std::int64_t b) {
                       return centroids[a][axis] < centroids[b][axis] ||
                              (centroids[a][axis] == centroids[b][axis] && a < b);
                     });
    build(begin, mid, centroids);
    node.right = build(mid, end, centroids);
  }
  m_nodes[index] = node;
  return index;
}

AabbTree::Hit AabbTree::closest(const Eigen::Vector3d& q) const {
  Hit best{std::numeric_limits<double>::infinity(), -1, Eigen::Vector3d::Zero()};
  std::int64_t stack[128];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const Node& n = m_nodes[stack[--top]];
    if (box_sqr_distance(n.lo, n.hi, q) > best.sqr_distance) continue;
    if (n.right < 0) {
      for (std::int64_t i = n.begin; i < n.end; ++i) {
        const double* c = m_corners.data() + 9 * i;
        const Eigen::Vector3d a(c[0], c[1], c[2]), b(c[3], c[4], c[5]), cc(c[6], c[7], c[8]);
        const Eigen::Vector3d p = closest_point_on_triangle(q, a, b, cc);
        const double d2 = (p - q).squaredNorm();
        if (d2 < best.sqr_distance || (d2 == best.sqr_distance && m_ids[i] < best.triangle))
          best = {d2, m_ids[i], p};
      }
      continue;
    }
    // Push the farther child first so the nearer one is searched first and tightens the bound.
    const std::int64_t left = &n - m_nodes.data() + 1, right = n.right;
    const double dl = box_sqr_distance(m_nodes[left].lo, m_nodes[left].hi, q);
    const double dr = box_sqr_distance(m_nodes[right].lo, m_nodes[right].hi, q);
    FLARE_CHECK(top + 2 <= 128, "AabbTree stack overflow (tree too deep)");
    if (dl <= dr) {
      stack[top++] = right;
      stack[top++] = left;
    } else {
      stack[top++] = left;
      stack[top++] = right;
    }
  }
  return best;
}

void AabbTree::closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out) const {
  FLARE_CHECK(tolerance > 0, "AabbTree::closest_all: the tolerance must be positive");
  // Every triangle within tolerance of the smallest distance seen so far is a candidate; the
  // smallest distance is only known at the end, so the candidates are filtered then. The answer
  // is a function of the distances alone, not of the order the tree visits the triangles in.
  out.clear();
  double nearest = std::numeric_limits<double>::infinity();
  std::int64_t stack[128];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const Node& n = m_nodes[stack[--top]];
    const double reach = nearest + tolerance;
    if (box_sqr_distance(n.lo, n.hi, q) > reach * reach) continue;
    if (n.right < 0) {
      for (std::int64_t i = n.begin; i < n.end; ++i) {
        const double* c = m_corners.data() + 9 * i;
        const Eigen::Vector3d a(c[0], c[1], c[2]), b(c[3], c[4], c[5]), cc(c[6], c[7], c[8]);
        const Eigen::Vector3d p = closest_point_on_triangle(q, a, b, cc);
        const double d2 = (p - q).squaredNorm(), d = std::sqrt(d2);
        if (d > nearest + tolerance) continue;
        out.push_back({d2, m_ids[i], p});
        nearest = std::min(nearest, d);
      }
      continue;
    }
    // Nearer child first, as in closest(q): it tightens `nearest` early.
    const std::int64_t left = &n - m_nodes.data() + 1, right = n.right;
    const double dl = box_sqr_distance(m_nodes[left].lo, m_nodes[left].hi, q);
    const double dr = box_sqr_distance(m_nodes[right].lo, m_nodes[right].hi, q);
    FLARE_CHECK(top + 2 <= 128, "AabbTree stack overflow (tree too deep)");
    stack[top++] = dl <= dr ? right : left;
    stack[top++] = dl <= dr ? left : right;
  }
  const double reach = nearest + tolerance;
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const Hit& h) { return std::sqrt(h.sqr_distance) > reach; }),
            out.end());
  std::sort(out.begin(), out.end(),
            [](const Hit& a, const Hit& b) { return a.triangle < b.triangle; });
}

}  // namespace flare::mesh
