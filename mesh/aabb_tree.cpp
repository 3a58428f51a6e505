#include "mesh/aabb_tree.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace flare::mesh {

namespace {
constexpr std::int64_t kLeafSize = 4;

// Squared distance from q to a box stored in float (rounded outward, so it holds the exact box);
// computed in double.
template <typename Node>
double box_sqr_distance(const Node& n, const Eigen::Vector3d& q) {
  double d2 = 0;
  for (int k = 0; k < 3; ++k) {
    const double lo = n.lo[k], hi = n.hi[k];
    const double d = q[k] < lo ? lo - q[k] : (q[k] > hi ? q[k] - hi : 0.0);
    d2 += d * d;
  }
  return d2;
}

float round_down(double x) {
  float f = float(x);
  return double(f) > x ? std::nextafter(f, -std::numeric_limits<float>::infinity()) : f;
}
float round_up(double x) {
  float f = float(x);
  return double(f) < x ? std::nextafter(f, std::numeric_limits<float>::infinity()) : f;
}

// Nodes of a subtree over n triangles (the build's split rule: leaves of at most kLeafSize, the
// first half to the left), so subtrees can be built in parallel into their own index ranges.
std::int64_t subtree_nodes(std::int64_t n) {
  return n <= kLeafSize ? 1 : 1 + subtree_nodes(n / 2) + subtree_nodes(n - n / 2);
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
  FLARE_CHECK(nt < std::numeric_limits<std::int32_t>::max(), "AabbTree: too many triangles (", nt, ")");
  std::vector<Eigen::Vector3d> centroids(nt);
  // Corners first (input order); build() needs them for the boxes, then they are permuted.
  std::vector<double> input(9 * nt);
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < nt; ++t) {
    centroids[t] = (points.row(triangles(t, 0)) + points.row(triangles(t, 1)) +
                    points.row(triangles(t, 2))).transpose() / 3.0;
    for (int v = 0; v < 3; ++v)
      for (int k = 0; k < 3; ++k) input[9 * t + 3 * v + k] = points(triangles(t, v), k);
  }
  m_ids.resize(nt);
  std::iota(m_ids.begin(), m_ids.end(), 0);
  m_corners.swap(input);
  m_nodes.resize(subtree_nodes(nt));
  Eigen::AlignedBox3d box;
#pragma omp parallel
#pragma omp single
  box = build(0, nt, 0, centroids);
  // Rounding in the distances is a few ulps of the coordinates; 1e-9 of the box size plus the
  // largest coordinate covers it with a wide margin and prunes practically as tightly.
  const double extent = std::max({box.sizes().maxCoeff(), box.min().cwiseAbs().maxCoeff(),
                                  box.max().cwiseAbs().maxCoeff()});
  m_slack = 1e-9 * extent;
  input.resize(9 * nt);
  m_pos.resize(nt);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < nt; ++i) {
    std::copy_n(m_corners.data() + 9 * m_ids[i], 9, input.data() + 9 * i);
    m_pos[m_ids[i]] = i;
  }
  m_corners.swap(input);
}

Eigen::AlignedBox3d AabbTree::build(std::int64_t begin, std::int64_t end, std::int64_t index,
                                    std::vector<Eigen::Vector3d>& centroids) {
  Node node{};
  // A leaf's box comes from its corners, an inner node's from its children's exact boxes (min
  // and max are exact, so the union is the same box, and the corners are read once, not once a
  // level); the split needs the centroids' box at every level.
  Eigen::AlignedBox3d box;
  if (end - begin > kLeafSize) {
    Eigen::AlignedBox3d cbox;
    for (std::int64_t i = begin; i < end; ++i) cbox.extend(centroids[m_ids[i]]);
    int axis = 0;
    cbox.sizes().maxCoeff(&axis);
    const std::int64_t mid = begin + (end - begin) / 2;
    std::nth_element(m_ids.begin() + begin, m_ids.begin() + mid, m_ids.begin() + end,
                     [&](std::int64_t a, std::int64_t b) {
                       return centroids[a][axis] < centroids[b][axis] ||
                              (centroids[a][axis] == centroids[b][axis] && a < b);
                     });
    const std::int64_t right = index + 1 + subtree_nodes(mid - begin);
    node.first = std::int32_t(right);
    node.count = 0;
    // The halves touch disjoint ranges of m_ids and m_nodes: big ones are built as tasks.
    Eigen::AlignedBox3d left_box;
#pragma omp task default(shared) shared(left_box) if (end - begin > 20000)
    left_box = build(begin, mid, index + 1, centroids);
    box = build(mid, end, right, centroids);
#pragma omp taskwait
    box.extend(left_box);
  } else {
    for (std::int64_t i = begin; i < end; ++i) {
      const double* c = m_corners.data() + 9 * m_ids[i];  // still input order here
      for (int v = 0; v < 3; ++v) box.extend(Eigen::Vector3d(c[3 * v], c[3 * v + 1], c[3 * v + 2]));
    }
    node.first = std::int32_t(begin);
    node.count = std::int32_t(end - begin);
  }
  for (int k = 0; k < 3; ++k) {
    node.lo[k] = round_down(box.min()[k]);
    node.hi[k] = round_up(box.max()[k]);
  }
  m_nodes[index] = node;
  return box;
}

namespace {
// A node to visit with its box distance, computed once when its parent pushed it.
struct Entry {
  std::int64_t node;
  double d2;
};
// Pushes the children (box distances dl, dr) that lie within `bound`, the farther first, so the
// nearer one is searched first and tightens the bound early.
inline void push_children(Entry* stack, int& top, std::int64_t left, double dl, std::int64_t right,
                          double dr, double bound) {
  FLARE_CHECK(top + 2 <= 128, "AabbTree stack overflow (tree too deep)");
  if (dl <= dr) {
    if (dr <= bound) stack[top++] = {right, dr};
    if (dl <= bound) stack[top++] = {left, dl};
  } else {
    if (dl <= bound) stack[top++] = {left, dl};
    if (dr <= bound) stack[top++] = {right, dr};
  }
}
}  // namespace

AabbTree::Hit AabbTree::closest(const Eigen::Vector3d& q) const { return closest(q, -1); }

AabbTree::Hit AabbTree::closest(const Eigen::Vector3d& q, std::int64_t hint) const {
  Hit best{std::numeric_limits<double>::infinity(), -1, Eigen::Vector3d::Zero()};
  // Boxes are pruned only when farther than the best hit by more than m_slack, so no rounding in
  // the box or triangle distances can drop a triangle that ties the best: the answer is the least
  // (squared distance, index) over all triangles, whatever the traversal order or the hint.
  double bound = std::numeric_limits<double>::infinity();
  auto consider = [&](std::int64_t i) {
    const double* c = m_corners.data() + 9 * i;
    const Eigen::Vector3d a(c[0], c[1], c[2]), b(c[3], c[4], c[5]), cc(c[6], c[7], c[8]);
    const Eigen::Vector3d p = closest_point_on_triangle(q, a, b, cc);
    const double d2 = (p - q).squaredNorm();
    if (d2 < best.sqr_distance || (d2 == best.sqr_distance && m_ids[i] < best.triangle)) {
      best = {d2, m_ids[i], p};
      const double r = std::sqrt(d2) + m_slack;
      bound = r * r;
    }
  };
  if (hint >= 0) consider(m_pos[hint]);
  Entry stack[128];
  int top = 0;
  stack[top++] = {0, box_sqr_distance(m_nodes[0], q)};
  while (top > 0) {
    const Entry e = stack[--top];
    if (e.d2 > bound) continue;
    const Node& n = m_nodes[e.node];
    if (n.count > 0) {
      for (std::int64_t i = n.first; i < std::int64_t(n.first) + n.count; ++i) consider(i);
      continue;
    }
    const std::int64_t left = e.node + 1, right = n.first;
    push_children(stack, top, left, box_sqr_distance(m_nodes[left], q), right,
                  box_sqr_distance(m_nodes[right], q), bound);
  }
  return best;
}

void AabbTree::closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out) const {
  closest_all(q, tolerance, out, -1);
}

void AabbTree::closest_all(const Eigen::Vector3d& q, double tolerance, std::vector<Hit>& out,
                           std::int64_t hint) const {
  FLARE_CHECK(tolerance > 0, "AabbTree::closest_all: the tolerance must be positive");
  // Every triangle within tolerance of the smallest distance seen so far is a candidate; the
  // smallest distance is only known at the end, so the candidates are filtered then. Boxes are
  // kept within m_slack of the reach, as in closest(), so the set does not depend on the order
  // the tree is visited in.
  out.clear();
  double nearest = std::numeric_limits<double>::infinity();
  if (hint >= 0) {
    const double* c = m_corners.data() + 9 * m_pos[hint];
    const Eigen::Vector3d a(c[0], c[1], c[2]), b(c[3], c[4], c[5]), cc(c[6], c[7], c[8]);
    nearest = (closest_point_on_triangle(q, a, b, cc) - q).norm();
  }
  auto reach2 = [&] {
    const double r = nearest + tolerance + m_slack;
    return r * r;
  };
  // As in closest(): children beyond the reach are not pushed at all.
  Entry stack[128];
  int top = 0;
  stack[top++] = {0, box_sqr_distance(m_nodes[0], q)};
  while (top > 0) {
    const Entry e = stack[--top];
    if (e.d2 > reach2()) continue;
    const std::int64_t index = e.node;
    const Node& n = m_nodes[index];
    if (n.count > 0) {
      for (std::int64_t i = n.first; i < std::int64_t(n.first) + n.count; ++i) {
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
    const std::int64_t left = index + 1, right = n.first;
    push_children(stack, top, left, box_sqr_distance(m_nodes[left], q), right,
                  box_sqr_distance(m_nodes[right], q), reach2());
  }
  const double reach = nearest + tolerance;
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const Hit& h) { return std::sqrt(h.sqr_distance) > reach; }),
            out.end());
  std::sort(out.begin(), out.end(),
            [](const Hit& a, const Hit& b) { return a.triangle < b.triangle; });
}

}  // namespace flare::mesh
