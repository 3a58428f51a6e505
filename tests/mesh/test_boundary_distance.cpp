// The threaded boundary extraction and nearest-triangle search (mesh/boundary.h, mesh/aabb_tree.h)
// against plain references: a std::map face count and a brute-force scan of every triangle. The
// features must not change when the code gets faster, so the comparisons are exact (==), on
// lattices (where ties between equally near faces are everywhere) and on irregular tet meshes,
// for several thread counts.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>

#include "mesh/aabb_tree.h"
#include "mesh/boundary.h"
#include "mesh/features.h"
#include "mesh/grid.h"

using namespace flare::mesh;

namespace {

// A voxel part with holes, a notch and an overhang: a lattice with many equidistant faces.
Mesh holey_lattice(int n) {
  return hex_grid(n, n - 1, n + 2, 0.37, [n](int i, int j, int k) {
    const bool hole = (i - n / 2) * (i - n / 2) + (j - n / 3) * (j - n / 3) < n * n / 16;
    const bool notch = i < n / 3 && k > n / 2;
    const bool overhang = k > n && j > n / 2;
    return !hole && !notch && !(i > n / 2 && k > n / 3 && !overhang && j < n / 4);
  });
}

// Tetrahedra of a jittered hexahedral grid (Kuhn split), ids shuffled so that cell order and point
// order are unrelated.
Mesh jittered_tets(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(-0.2, 0.2);
  Mesh m;
  m.points.resize(std::int64_t(n) * n * n, 3);
  std::vector<std::int64_t> perm(m.points.rows());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = std::int64_t(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  auto id = [&](int i, int j, int k) { return perm[i + std::int64_t(n) * (j + std::int64_t(n) * k)]; };
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const bool inner = i > 0 && j > 0 && k > 0 && i + 1 < n && j + 1 < n && k + 1 < n;
        m.points.row(id(i, j, k)) << i + (inner ? jitter(rng) : 0), j + (inner ? jitter(rng) : 0),
            k + (inner ? jitter(rng) : 0);
      }
  const int perms[6][3] = {{1, 2, 4}, {1, 4, 2}, {2, 1, 4}, {2, 4, 1}, {4, 1, 2}, {4, 2, 1}};
  for (int k = 0; k + 1 < n; ++k)
    for (int j = 0; j + 1 < n; ++j)
      for (int i = 0; i + 1 < n; ++i) {
        if ((i + 2 * j + 3 * k) % 7 == 3) continue;  // a few missing cubes: inner boundaries
        std::int64_t c[8];
        for (int b = 0; b < 8; ++b) c[b] = id(i + (b & 1), j + ((b >> 1) & 1), k + ((b >> 2) & 1));
        for (const auto& p : perms) m.add_cell(CellType::Tetra, {c[0], c[p[0]], c[p[0] + p[1]], c[7]});
      }
  return m;
}

// The boundary by definition: faces of hexahedra and tetrahedra (local face tables as in
// mesh/boundary.cpp) counted in a std::map, kept when used once, in (cell, local face) order,
// turned so their Newell normal points away from the cell centroid, fanned from the first vertex.
Triangles reference_boundary(const Mesh& m) {
  static const std::vector<std::vector<int>> hexa = {{0, 4, 7, 3}, {1, 2, 6, 5}, {0, 1, 5, 4},
                                                     {3, 7, 6, 2}, {0, 3, 2, 1}, {4, 5, 6, 7}};
  static const std::vector<std::vector<int>> tetra = {{0, 1, 3}, {1, 2, 3}, {2, 0, 3}, {0, 2, 1}};
  auto faces = [&](std::int64_t c) -> const std::vector<std::vector<int>>& {
    return m.cell_type(c) == CellType::Tetra ? tetra : hexa;
  };
  auto key = [&](std::int64_t c, const std::vector<int>& f) {
    std::vector<std::int64_t> k;
    for (int v : f) k.push_back(m.cell(c)[v]);
    std::sort(k.begin(), k.end());
    return k;
  };
  std::map<std::vector<std::int64_t>, int> count;
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    for (const auto& f : faces(c)) ++count[key(c, f)];
  std::vector<std::int64_t> flat;
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    for (const auto& f : faces(c)) {
      if (count[key(c, f)] != 1) continue;
      std::vector<std::int64_t> v;
      for (int i : f) v.push_back(m.cell(c)[i]);
      Eigen::Vector3d cc = Eigen::Vector3d::Zero(), fc = Eigen::Vector3d::Zero(), nrm = Eigen::Vector3d::Zero();
      const int corners = m.cell_type(c) == CellType::Tetra ? 4 : 8;
      for (int i = 0; i < corners; ++i) cc += m.points.row(m.cell(c)[i]).transpose();
      cc /= corners;
      for (std::int64_t i : v) fc += m.points.row(i).transpose();
      fc /= double(v.size());
      for (std::size_t i = 0; i < v.size(); ++i)
        nrm += Eigen::Vector3d(m.points.row(v[i])).cross(Eigen::Vector3d(m.points.row(v[(i + 1) % v.size()])));
      if (nrm.dot(fc - cc) < 0) std::reverse(v.begin(), v.end());
      for (std::size_t i = 1; i + 1 < v.size(); ++i) flat.insert(flat.end(), {v[0], v[i], v[i + 1]});
    }
  Triangles t(std::int64_t(flat.size() / 3), 3);
  std::copy(flat.begin(), flat.end(), t.data());
  return t;
}

// Nearest triangle by brute force: the least (squared distance, index) over every triangle, the
// distance computed exactly as the tree computes it.
struct Nearest {
  double d2;
  std::int64_t triangle;
  Eigen::Vector3d closest;
};
Nearest brute_nearest(const Points& p, const Triangles& t, const Eigen::Vector3d& q) {
  Nearest best{std::numeric_limits<double>::infinity(), -1, Eigen::Vector3d::Zero()};
  for (Eigen::Index i = 0; i < t.rows(); ++i) {
    const Eigen::Vector3d c = closest_point_on_triangle(q, p.row(t(i, 0)).transpose(),
                                                        p.row(t(i, 1)).transpose(), p.row(t(i, 2)).transpose());
    const double d2 = (c - q).squaredNorm();
    if (d2 < best.d2) best = {d2, i, c};
  }
  return best;
}

// boundary_distance() as defined in mesh/boundary.h, by brute force: with tolerance 0 the
// nearest triangle's normal, else the normalised sum of the distinct normals of every triangle
// within the tolerance of the nearest.
BoundaryDistance reference_distance(const Mesh& m, double tolerance = 0.0) {
  const BoundarySurface s = extract_boundary(m);
  const auto normals = triangle_normals(m.points, s.triangles);
  std::vector<char> in_volume(m.num_points(), 0);
  for (std::int64_t c = 0; c < m.num_cells(); ++c)
    if (cell_dimension(m.cell_type(c)) == 3)
      for (std::int64_t k = 0; k < m.cell_size(c); ++k) in_volume[m.cell(c)[k]] = 1;
  BoundaryDistance out{std::vector<double>(m.num_points()), Points(m.num_points(), 3)};
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    const Eigen::Vector3d q = m.points.row(i).transpose();
    const Nearest hit = brute_nearest(m.points, s.triangles, q);
    const Eigen::Vector3d face = normals.row(hit.triangle).transpose();
    Eigen::Vector3d nrm = face;
    if (tolerance > 0) {
      std::vector<Eigen::Vector3d> distinct;
      Eigen::Vector3d sum = Eigen::Vector3d::Zero();
      for (Eigen::Index t = 0; t < s.triangles.rows(); ++t) {
        const Eigen::Vector3d c =
            closest_point_on_triangle(q, m.points.row(s.triangles(t, 0)).transpose(),
                                      m.points.row(s.triangles(t, 1)).transpose(),
                                      m.points.row(s.triangles(t, 2)).transpose());
        const Eigen::Vector3d n = normals.row(t).transpose();
        if ((c - q).norm() > std::sqrt(hit.d2) + tolerance || n.squaredNorm() == 0) continue;
        bool seen = false;
        for (const auto& d : distinct) seen = seen || n.dot(d) > 1 - 1e-9;
        if (seen) continue;
        distinct.push_back(n);
        sum += n;
      }
      nrm = sum.norm() > 1e-6 ? Eigen::Vector3d(sum / sum.norm()) : Eigen::Vector3d::Zero();
    }
    double d = std::sqrt(hit.d2);
    if (d > 0 && s.closed_volume && (in_volume[i] || (q - hit.closest).dot(face) < 0)) d = -d;
    out.distance[i] = d;
    out.normal.row(i) = nrm.transpose();
  }
  return out;
}

// Runs f with each thread count, restoring the default.
template <typename F>
void for_thread_counts(F f) {
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    f(threads);
  }
  omp_set_num_threads(saved);
}

}  // namespace

TEST(BoundaryExtraction, EqualsTheMapCountOnLatticesAndShuffledTets) {
  const Mesh lattice = holey_lattice(9);
  const Mesh tets = jittered_tets(6, 3);
  const Triangles ref_lattice = reference_boundary(lattice), ref_tets = reference_boundary(tets);
  ASSERT_GT(ref_lattice.rows(), 500);
  ASSERT_GT(ref_tets.rows(), 300);
  for_thread_counts([&](int threads) {
    EXPECT_TRUE(extract_boundary(lattice).triangles == ref_lattice) << threads << " threads";
    EXPECT_TRUE(extract_boundary(tets).triangles == ref_tets) << threads << " threads";
  });
}

// A face shared by three cells (non-manifold) is interior, as is a face a cell repeats.
TEST(BoundaryExtraction, FacesUsedMoreThanOnceAreInterior) {
  Mesh m = hex_grid(2, 1, 1, 1.0);  // two hexahedra sharing the face x = 1
  m.add_cell(CellType::Hexahedron, m.cell(0), 8);  // a third copy of cell 0
  EXPECT_TRUE(extract_boundary(m).triangles == reference_boundary(m));
  // Cells 0 and 2 are the same cube: all of its faces are used twice; only cell 1's five outer
  // faces remain.
  EXPECT_EQ(extract_boundary(m).triangles.rows(), 5 * 2);
}

TEST(AabbTree, AnyHintGivesTheSameHitAsNoHint) {
  const Mesh m = holey_lattice(7);
  const BoundarySurface s = extract_boundary(m);
  const AabbTree tree(m.points, s.triangles);
  std::mt19937 rng(5);
  std::uniform_int_distribution<std::int64_t> tri(0, s.triangles.rows() - 1);
  for (std::int64_t i = 0; i < m.num_points(); i += 3) {
    const Eigen::Vector3d q = m.points.row(i).transpose();
    const auto a = tree.closest(q);
    const auto b = tree.closest(q, tri(rng));
    ASSERT_EQ(a.sqr_distance, b.sqr_distance) << i;
    ASSERT_EQ(a.triangle, b.triangle) << i;
    ASSERT_TRUE(a.closest == b.closest) << i;
    const Nearest c = brute_nearest(m.points, s.triangles, q);
    ASSERT_EQ(a.sqr_distance, c.d2) << i;
    ASSERT_EQ(a.triangle, c.triangle) << i;
  }
}

TEST(BoundaryDistance, EqualsBruteForceExactlyForEveryThreadCount) {
  Mesh lattice = holey_lattice(8);
  // Points used by no cell: outside, on a face plane, inside a hole.
  const Eigen::Index n0 = lattice.points.rows();
  lattice.points.conservativeResize(n0 + 3, 3);
  lattice.points.row(n0) << -1.3, 0.2, 0.5;
  lattice.points.row(n0 + 1) << 0.37 * 4, 0.0, 0.37 * 3;
  lattice.points.row(n0 + 2) << 0.37 * 4.2, 0.37 * 2.6, 0.37 * 0.5;
  const std::vector<Mesh> meshes = {lattice, jittered_tets(6, 11)};
  for (const Mesh& m : meshes)
    for (const double tol : {0.0, tie_tolerance(m.points)}) {
      const BoundaryDistance ref = reference_distance(m, tol);
      for_thread_counts([&](int threads) {
        const BoundaryDistance got = boundary_distance(m, "mesh", tol);
        ASSERT_EQ(got.distance.size(), ref.distance.size());
        for (std::size_t i = 0; i < ref.distance.size(); ++i) {
          ASSERT_EQ(got.distance[i], ref.distance[i])
              << "point " << i << ", tolerance " << tol << ", " << threads << " threads";
          ASSERT_TRUE(got.normal.row(i) == ref.normal.row(i))
              << "point " << i << ", tolerance " << tol << ", " << threads << " threads";
        }
      });
    }
}

// compute_features' boundary columns are boundary_distance() scaled: the same numbers, with the
// tie tolerance of the recipe's version (0 for version 1, tie_tolerance() for version 2).
TEST(BoundaryDistance, IsWhatTheFeaturesUse) {
  const Mesh m = holey_lattice(6);
  for (const int version : {1, 2}) {
    FeatureRecipe r;
    r.version = version;
    r.features = {"boundary_distance", "boundary_normal"};
    r.length_scale = 2.0;
    const FeatureMatrix x = compute_features(m, r);
    const BoundaryDistance b =
        boundary_distance(m, "mesh", version == 1 ? 0.0 : tie_tolerance(m.points));
    std::int64_t differs = 0;  // from the other version's normals: ties are everywhere on a lattice
    const BoundaryDistance other =
        boundary_distance(m, "mesh", version == 1 ? tie_tolerance(m.points) : 0.0);
    for (std::int64_t i = 0; i < m.num_points(); ++i) {
      ASSERT_EQ(x(i, 0), float(b.distance[i] * 0.5)) << i << ", version " << version;
      for (int k = 0; k < 3; ++k)
        ASSERT_EQ(x(i, 1 + k), float(b.normal(i, k))) << i << ", version " << version;
      differs += !(b.normal.row(i) == other.normal.row(i));
    }
    EXPECT_GT(differs, 10) << "version " << version;
  }
}

// closest_all: every triangle within the tolerance of the nearest, in index order, as a scan of
// all triangles finds them, whatever triangle bounds the search first.
TEST(AabbTree, ClosestAllEqualsTheBruteForceSet) {
  const Mesh m = holey_lattice(6);
  const BoundarySurface s = extract_boundary(m);
  const AabbTree tree(m.points, s.triangles);
  std::vector<AabbTree::Hit> hits;
  for (double tol : {1e-9, 0.2}) {
    std::size_t tied = 0;
    for (std::int64_t i = 0; i < m.num_points(); i += 2) {
      const Eigen::Vector3d q = m.points.row(i).transpose();
      std::vector<double> d(s.triangles.rows());
      for (Eigen::Index t = 0; t < s.triangles.rows(); ++t)
        d[t] = (closest_point_on_triangle(q, m.points.row(s.triangles(t, 0)).transpose(),
                                          m.points.row(s.triangles(t, 1)).transpose(),
                                          m.points.row(s.triangles(t, 2)).transpose()) - q).norm();
      const double nearest = *std::min_element(d.begin(), d.end());
      std::vector<std::int64_t> expected;
      for (Eigen::Index t = 0; t < s.triangles.rows(); ++t)
        if (d[t] <= nearest + tol) expected.push_back(t);
      tree.closest_all(q, tol, hits);
      std::vector<std::int64_t> got;
      for (const auto& h : hits) got.push_back(h.triangle);
      ASSERT_EQ(got, expected) << "point " << i << ", tolerance " << tol;
      tied += got.size() > 1;
      // A hint (a near triangle, a far one, the nearest itself) bounds the search, never the set.
      for (const std::int64_t hint : {std::int64_t(0), std::int64_t(s.triangles.rows() - 1),
                                      expected.front(), std::int64_t(i % s.triangles.rows())}) {
        tree.closest_all(q, tol, hits, hint);
        std::vector<std::int64_t> hinted;
        for (const auto& h : hits) hinted.push_back(h.triangle);
        ASSERT_EQ(hinted, expected) << "point " << i << ", tolerance " << tol << ", hint " << hint;
      }
    }
    EXPECT_GT(tied, 10u) << "a lattice has many ties";
  }
}
