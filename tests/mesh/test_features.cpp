// Point features: boundary extraction, the AABB tree and compute_features, checked against
// analytic answers on cube meshes of several cell types and against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "common/error.h"
#include "mesh/aabb_tree.h"
#include "mesh/boundary.h"
#include "mesh/features.h"
#include "mesh/grid.h"
#include "tests/support/errors.h"

using namespace flare::mesh;

namespace {

enum class Kind { Hex, Voxel, Tet, Wedge };

// A grid of n^3 nodes over [0,1]^3 with uneven spacing (so distances are not all grid multiples),
// split into cells of one kind. Every split is conforming across neighbouring cubes.
Mesh cube_mesh(int n, Kind kind) {
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = std::pow(double(i) / (n - 1), 1.3);
  Mesh m;
  m.points.resize(std::int64_t(n) * n * n, 3);
  auto id = [n](int i, int j, int k) { return std::int64_t(i) + std::int64_t(n) * (j + std::int64_t(n) * k); };
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) m.points.row(id(i, j, k)) << x[i], x[j], x[k];
  for (int k = 0; k + 1 < n; ++k)
    for (int j = 0; j + 1 < n; ++j)
      for (int i = 0; i + 1 < n; ++i) {
        // corner c = bx + 2 by + 4 bz
        std::int64_t c[8];
        for (int b = 0; b < 8; ++b) c[b] = id(i + (b & 1), j + ((b >> 1) & 1), k + ((b >> 2) & 1));
        switch (kind) {
          case Kind::Hex: m.add_cell(CellType::Hexahedron, {c[0], c[1], c[3], c[2], c[4], c[5], c[7], c[6]}); break;
          case Kind::Voxel: m.add_cell(CellType::Voxel, {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]}); break;
          case Kind::Wedge:
            m.add_cell(CellType::Wedge, {c[0], c[1], c[3], c[4], c[5], c[7]});
            m.add_cell(CellType::Wedge, {c[0], c[3], c[2], c[4], c[7], c[6]});
            break;
          case Kind::Tet: {
            // Kuhn split: one tet per axis order, from corner 0 to corner 7.
            const int perms[6][3] = {{1, 2, 4}, {1, 4, 2}, {2, 1, 4}, {2, 4, 1}, {4, 1, 2}, {4, 2, 1}};
            for (const auto& p : perms)
              m.add_cell(CellType::Tetra, {c[0], c[p[0]], c[p[0] + p[1]], c[7]});
            break;
          }
        }
      }
  return m;
}

double analytic_distance(const Eigen::Vector3d& p) {
  return -std::min({p.x(), 1 - p.x(), p.y(), 1 - p.y(), p.z(), 1 - p.z()});
}

using flare::test::input_error;

class CubeBoundary : public ::testing::TestWithParam<Kind> {};

}  // namespace

TEST_P(CubeBoundary, FaceCountAreaAndOutwardNormals) {
  const Mesh m = cube_mesh(4, GetParam());
  m.validate("cube");
  const BoundarySurface b = extract_boundary(m);
  EXPECT_TRUE(b.closed_volume);
  // 6 sides x 3x3 cell faces x 2 triangles, whatever the cell type.
  EXPECT_EQ(b.triangles.rows(), 6 * 9 * 2);
  EXPECT_NEAR(surface_area(m.points, b.triangles), 6.0, 1e-12);
  const auto n = triangle_normals(m.points, b.triangles);
  for (Eigen::Index t = 0; t < b.triangles.rows(); ++t) {
    Eigen::Vector3d c = (m.points.row(b.triangles(t, 0)) + m.points.row(b.triangles(t, 1)) +
                         m.points.row(b.triangles(t, 2))).transpose() / 3.0;
    // On the cube the outward normal is the axis of the side the triangle lies on.
    int axis = 0;
    (c.array() - 0.5).abs().maxCoeff(&axis);
    Eigen::Vector3d expected = Eigen::Vector3d::Zero();
    expected[axis] = c[axis] > 0.5 ? 1 : -1;
    EXPECT_NEAR((n.row(t).transpose() - expected).norm(), 0.0, 1e-12) << "triangle " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(CellTypes, CubeBoundary,
                         ::testing::Values(Kind::Hex, Kind::Voxel, Kind::Tet, Kind::Wedge));

TEST(Boundary, PyramidsAroundCentre) {
  Mesh m;
  m.points.resize(9, 3);
  for (int b = 0; b < 8; ++b) m.points.row(b) << (b & 1), ((b >> 1) & 1), ((b >> 2) & 1);
  m.points.row(8) << 0.5, 0.5, 0.5;
  // Each side of the unit cube is the base of a pyramid whose apex is the centre; the base is
  // listed in both windings to check that orientation comes from geometry, not vertex order.
  m.add_cell(CellType::Pyramid, {0, 1, 3, 2, 8});
  m.add_cell(CellType::Pyramid, {4, 6, 7, 5, 8});
  m.add_cell(CellType::Pyramid, {0, 4, 5, 1, 8});
  m.add_cell(CellType::Pyramid, {2, 3, 7, 6, 8});
  m.add_cell(CellType::Pyramid, {0, 2, 6, 4, 8});
  m.add_cell(CellType::Pyramid, {1, 5, 7, 3, 8});
  const BoundarySurface b = extract_boundary(m);
  EXPECT_EQ(b.triangles.rows(), 12);
  EXPECT_NEAR(surface_area(m.points, b.triangles), 6.0, 1e-12);
  const auto n = triangle_normals(m.points, b.triangles);
  for (Eigen::Index t = 0; t < b.triangles.rows(); ++t) {
    Eigen::Vector3d c = (m.points.row(b.triangles(t, 0)) + m.points.row(b.triangles(t, 1)) +
                         m.points.row(b.triangles(t, 2))).transpose() / 3.0;
    EXPECT_GT(n.row(t).dot((c - Eigen::Vector3d::Constant(0.5)).transpose()), 0) << t;
  }
}

TEST(Boundary, SurfaceMeshIsItselfAndPointCloudIsRefused) {
  Mesh s;
  s.points.resize(4, 3);
  s.points << 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0;
  s.add_cell(CellType::Quad, {0, 1, 2, 3});
  const BoundarySurface b = extract_boundary(s);
  EXPECT_FALSE(b.closed_volume);
  EXPECT_EQ(b.triangles.rows(), 2);
  EXPECT_NEAR(surface_area(s.points, b.triangles), 1.0, 1e-15);

  Mesh cloud;
  cloud.points = s.points;
  EXPECT_NE(input_error([&] { extract_boundary(cloud, "cloud.vtu"); }).find("cloud.vtu"),
            std::string::npos);
}

TEST(AabbTree, MatchesBruteForce) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  Points p(600, 3);
  for (Eigen::Index i = 0; i < p.rows(); ++i) p.row(i) << u(rng), u(rng), u(rng);
  Triangles t(200, 3);
  for (Eigen::Index i = 0; i < t.rows(); ++i) t.row(i) << 3 * i, 3 * i + 1, 3 * i + 2;
  const AabbTree tree(p, t);
  for (int q = 0; q < 500; ++q) {
    const Eigen::Vector3d x(2 * u(rng), 2 * u(rng), 2 * u(rng));
    double best = 1e300;
    for (Eigen::Index i = 0; i < t.rows(); ++i) {
      const Eigen::Vector3d c = closest_point_on_triangle(
          x, p.row(t(i, 0)).transpose(), p.row(t(i, 1)).transpose(), p.row(t(i, 2)).transpose());
      best = std::min(best, (c - x).squaredNorm());
    }
    const auto hit = tree.closest(x);
    EXPECT_DOUBLE_EQ(hit.sqr_distance, best) << "query " << q;
    EXPECT_NEAR((hit.closest - x).squaredNorm(), best, 1e-12);
  }
}

// closest_all returns exactly the triangles within the tolerance of the nearest (brute force over
// every triangle), in index order; its nearest is closest()'s distance.
TEST(AabbTree, ClosestAllIsEveryTriangleWithinTheTolerance) {
  // Unit squares (two triangles each) stacked 0.1 apart in z, alternately shifted, in an order
  // that is not the distance order.
  const int layers = 40;
  Points p(4 * layers, 3);
  Triangles t(2 * layers, 3);
  for (int l = 0; l < layers; ++l) {
    const double z = 0.1 * ((l * 7) % layers), dx = 0.01 * (l % 3);
    p.row(4 * l + 0) << dx, 0, z;
    p.row(4 * l + 1) << 1 + dx, 0, z;
    p.row(4 * l + 2) << 1 + dx, 1, z;
    p.row(4 * l + 3) << dx, 1, z;
    t.row(2 * l) << 4 * l, 4 * l + 1, 4 * l + 2;
    t.row(2 * l + 1) << 4 * l, 4 * l + 2, 4 * l + 3;
  }
  const AabbTree tree(p, t);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-0.5, 4.5);
  std::vector<AabbTree::Hit> hits;
  std::size_t most = 0;
  for (double tol : {1e-9, 0.05, 0.15, 0.35}) {
    for (int q = 0; q < 200; ++q) {
      const Eigen::Vector3d x(0.5 * u(rng) - 0.5, 0.5 * u(rng) - 0.5, u(rng));
      std::vector<double> d(t.rows());
      for (Eigen::Index i = 0; i < t.rows(); ++i)
        d[i] = (closest_point_on_triangle(x, p.row(t(i, 0)).transpose(), p.row(t(i, 1)).transpose(),
                                          p.row(t(i, 2)).transpose()) - x).norm();
      const double nearest = *std::min_element(d.begin(), d.end());
      std::vector<std::int64_t> expected;
      for (Eigen::Index i = 0; i < t.rows(); ++i)
        if (d[i] <= nearest + tol) expected.push_back(i);
      tree.closest_all(x, tol, hits);
      std::vector<std::int64_t> got;
      for (const auto& h : hits) {
        got.push_back(h.triangle);
        EXPECT_DOUBLE_EQ(std::sqrt(h.sqr_distance), d[h.triangle]);
      }
      ASSERT_EQ(got, expected) << "tol " << tol << " query " << q;
      double got_nearest = 1e300;
      for (const auto& h : hits) got_nearest = std::min(got_nearest, h.sqr_distance);
      EXPECT_EQ(got_nearest, tree.closest(x).sqr_distance);
      most = std::max(most, got.size());
    }
  }
  EXPECT_GE(most, 6u);  // ties across layers were exercised, not only within one square
}

TEST(Features, DistanceAndNormalsOnCubeMatchAnalytic) {
  for (Kind kind : {Kind::Hex, Kind::Tet}) {
    const Mesh m = cube_mesh(7, kind);
    FeatureRecipe r = FeatureRecipe::default_recipe({}, 1);
    std::vector<std::string> names;
    const FeatureMatrix x = compute_features(m, r, &names);
    ASSERT_EQ(names, (std::vector<std::string>{"coord_x", "coord_y", "coord_z", "boundary_distance",
                                               "normal_x", "normal_y", "normal_z", "height"}));
    ASSERT_EQ(x.rows(), m.num_points());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const Eigen::Vector3d p = m.points.row(i).transpose();
      EXPECT_NEAR(x(i, 3), analytic_distance(p), 1e-6) << "point " << i;
      const Eigen::Vector3f nrm = x.row(i).segment<3>(4).transpose();
      EXPECT_NEAR(nrm.norm(), 1.0f, 1e-6f);
      // Where one side is strictly nearest, the normal is that side's outward axis.
      std::array<double, 6> d = {p.x(), 1 - p.x(), p.y(), 1 - p.y(), p.z(), 1 - p.z()};
      auto sorted = d;
      std::sort(sorted.begin(), sorted.end());
      if (sorted[1] - sorted[0] > 1e-9) {
        const int side = int(std::min_element(d.begin(), d.end()) - d.begin());
        Eigen::Vector3f expected = Eigen::Vector3f::Zero();
        expected[side / 2] = side % 2 ? 1.0f : -1.0f;
        EXPECT_NEAR((nrm - expected).norm(), 0.0f, 1e-6f) << "point " << i;
      }
      EXPECT_NEAR(x(i, 7), p.z(), 1e-6);
      EXPECT_NEAR(x(i, 0), p.x(), 1e-6);
    }
  }
}

TEST(Features, OrphanPointsOutsideArePositive) {
  Mesh m = cube_mesh(3, Kind::Hex);
  const std::int64_t n = m.num_points();
  m.points.conservativeResize(n + 1, 3);
  m.points.row(n) << 2.0, 0.5, 0.25;
  const FeatureMatrix x = compute_features(m, FeatureRecipe::default_recipe());
  EXPECT_NEAR(x(n, 3), 1.0, 1e-6);
  EXPECT_NEAR(x(n, 4), 1.0, 1e-6);
}

TEST(Features, Version1NormalisationIsFixedNotPerMesh) {
  Mesh m = cube_mesh(3, Kind::Hex);
  FeatureRecipe r = FeatureRecipe::default_recipe({}, 1);
  r.origin = Eigen::Vector3d(1, 2, 3);
  r.length_scale = 4;
  const FeatureMatrix a = compute_features(m, r);
  m.points.col(2).array() += 8;  // the same part, printed higher
  const FeatureMatrix b = compute_features(m, r);
  EXPECT_FLOAT_EQ(b(0, 2) - a(0, 2), 2.0f);       // coords move by 8 / 4
  EXPECT_FLOAT_EQ(a(0, 0), (0.0f - 1.0f) / 4.0f);
  EXPECT_EQ(a.col(3), b.col(3));                  // distance and height do not move
  EXPECT_EQ(a.col(7), b.col(7));
  EXPECT_FLOAT_EQ(a.col(7).maxCoeff(), 0.25f);    // height 1 / 4

  Bounds bounds;
  bounds.extend(m.points);
  fit_normalization(r, {bounds});
  EXPECT_NEAR((r.origin - Eigen::Vector3d(0.5, 0.5, 8.5)).norm(), 0, 1e-12);
  EXPECT_DOUBLE_EQ(r.length_scale, 0.5);
  // Version 1 fits the union of the training meshes: two unit cubes 3 apart span 4.
  Bounds far = bounds;
  far.lo.x() += 3;
  far.hi.x() += 3;
  fit_normalization(r, {bounds, far});
  EXPECT_DOUBLE_EQ(r.length_scale, 2.0);
}

// Version 2: coordinates in the part's own frame, so a part moved on the plate gets the same
// features, and the length scale is fitted per mesh, so moving the training parts leaves it.
TEST(Features, Version2IsThePartFrame) {
  Mesh m = cube_mesh(5, Kind::Tet);
  m.points.col(0) *= 3.0;  // 3 x 1 x 1: not a cube, so the axes are told apart
  FeatureRecipe r = FeatureRecipe::default_recipe();
  EXPECT_EQ(r.version, 2);
  r.length_scale = 2.5;
  r.origin = Eigen::Vector3d(100, 200, 300);  // ignored by version 2
  std::vector<std::string> names;
  const FeatureMatrix a = compute_features(m, r, &names);
  ASSERT_EQ(names, (std::vector<std::string>{"coord_x", "coord_y", "coord_z", "boundary_distance",
                                             "normal_x", "normal_y", "normal_z"}));
  EXPECT_EQ(part_frame_origin(m.points), Eigen::Vector3d(1.5, 0.5, 0.0));
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    ASSERT_FLOAT_EQ(a(i, 0), float((m.points(i, 0) - 1.5) / 2.5));
    ASSERT_FLOAT_EQ(a(i, 1), float((m.points(i, 1) - 0.5) / 2.5));
    ASSERT_FLOAT_EQ(a(i, 2), float(m.points(i, 2) / 2.5));  // height above the plate
  }

  Mesh moved = m;
  moved.points.col(0).array() += 40.0;
  moved.points.col(1).array() += 25.0;
  moved.points.col(2).array() += 7.0;  // on a raised plate: z still counts from the part's base
  const FeatureMatrix b = compute_features(moved, r);
  // Equal to float rounding: the translated points themselves are rounded in double.
  EXPECT_LT((a - b).cwiseAbs().maxCoeff(), 1e-6f);
  EXPECT_EQ(a.middleCols(4, 3), b.middleCols(4, 3));  // normals: the same triangles

  Bounds here, there;
  here.extend(m.points);
  there.extend(moved.points);
  FeatureRecipe f1 = FeatureRecipe::default_recipe(), f2 = f1;
  fit_normalization(f1, {here, here});
  fit_normalization(f2, {here, there});  // one part moved far away: version 1 would double
  EXPECT_DOUBLE_EQ(f1.length_scale, 1.5);
  EXPECT_DOUBLE_EQ(f2.length_scale, 1.5);
}

// The boundary computed beforehand (as `predict` does beside the coarse solve) gives the same
// features bit for bit, for either version's tie rule; one of another mesh is refused.
TEST(Features, PrecomputedBoundaryGivesTheSameFeatures) {
  const Mesh m = cube_mesh(5, Kind::Hex);
  for (int version : {1, 2}) {
    FeatureRecipe r = FeatureRecipe::default_recipe({}, version);
    r.length_scale = 0.7;
    const auto b = recipe_boundary(m, r);
    ASSERT_TRUE(b.has_value());
    const FeatureMatrix direct = compute_features(m, r);
    const FeatureMatrix given = compute_features(m, r, nullptr, "mesh", &*b);
    EXPECT_EQ(direct, given) << "version " << version;
  }
  FeatureRecipe coords_only;
  coords_only.features = {"coords", "height"};
  EXPECT_FALSE(recipe_boundary(m, coords_only).has_value());
  const FeatureRecipe r = FeatureRecipe::default_recipe();
  const auto other = recipe_boundary(cube_mesh(4, Kind::Hex), r);
  EXPECT_THROW(compute_features(m, r, nullptr, "mesh", &*other), flare::Error);
}

// Version 2 where faces tie: the normalised sum of their distinct normals (the corner's and the
// edge's bisector), zero midway through a wall; version 1 keeps one face's normal.
TEST(Features, Version2NormalsAtTiesAreTheBisector) {
  const Mesh cube = cube_mesh(3, Kind::Hex);  // nodes at 0, 0.406, 1 on each axis
  const FeatureMatrix x = compute_features(cube, FeatureRecipe::default_recipe());
  const FeatureMatrix x1 = compute_features(cube, FeatureRecipe::default_recipe({}, 1));
  const float r3 = 1 / std::sqrt(3.0f), r2 = 1 / std::sqrt(2.0f);
  const auto normal = [](const FeatureMatrix& f, Eigen::Index i) {
    return Eigen::Vector3f(f.row(i).segment<3>(4).transpose());
  };
  EXPECT_LT((normal(x, 0) - Eigen::Vector3f(-r3, -r3, -r3)).norm(), 1e-6f);   // corner
  EXPECT_LT((normal(x, 1) - Eigen::Vector3f(0, -r2, -r2)).norm(), 1e-6f);     // edge (x inside)
  EXPECT_LT((normal(x, 13) - Eigen::Vector3f(-r3, -r3, -r3)).norm(), 1e-6f);  // centre: 3 ties
  EXPECT_FLOAT_EQ(normal(x1, 0).norm(), 1.0f);  // version 1: one face
  EXPECT_EQ(normal(x1, 0).cwiseAbs().sum(), 1.0f);
  EXPECT_EQ(x.col(3), x1.col(3));  // the distances are the same either way

  // A wall two voxels thick: its middle nodes are equally far from both faces.
  const Mesh wall = hex_grid(2, 6, 6, 1.0);
  const FeatureMatrix w = compute_features(wall, FeatureRecipe::default_recipe());
  const Eigen::Index mid = 1 + 3 * (3 + 7 * 3);  // node (1, 3, 3), x fastest in a 3 x 7 x 7 grid
  ASSERT_EQ(wall.points.row(mid), Eigen::RowVector3d(1, 3, 3));
  EXPECT_EQ(normal(w, mid), Eigen::Vector3f::Zero());
  EXPECT_FLOAT_EQ(w(mid, 3), -1.0f);  // inside, 1 from both faces (length scale 1)
}

TEST(Features, PlaneSymmetryNamesTheInPlanePairs) {
  Mesh m = cube_mesh(2, Kind::Hex);
  const std::int64_t n = m.num_points();
  m.point_data.put(DataArray::from_doubles("layer", 1, std::vector<double>(n, 1.0)));
  m.point_data.put(DataArray::from_doubles("velocity", 3, std::vector<double>(3 * n, 1.0)));
  m.point_data.put(DataArray::from_doubles("uv", 2, std::vector<double>(2 * n, 1.0)));
  const FeatureRecipe r = FeatureRecipe::default_recipe({"layer", "velocity"});
  const PlaneSymmetry s = r.plane_symmetry(r.column_names(m));
  using Pair = std::array<Eigen::Index, 2>;
  // coord x/y, normal x/y (after the distance), velocity_0/1 (after layer)
  EXPECT_EQ(s.pairs, (std::vector<Pair>{{0, 1}, {4, 5}, {8, 9}}));
  EXPECT_EQ(s.why_not, "");

  const FeatureRecipe uv = FeatureRecipe::default_recipe({"uv"});
  EXPECT_NE(uv.plane_symmetry(uv.column_names(m)).why_not.find("'uv' has 2 components"),
            std::string::npos);
  const FeatureRecipe v1 = FeatureRecipe::default_recipe({}, 1);
  EXPECT_NE(v1.plane_symmetry(v1.column_names(m)).why_not.find("version 1"), std::string::npos);
  EXPECT_NE(input_error([&] { r.plane_symmetry({"coord_x"}); }).find("do not match"),
            std::string::npos);

  const PlaneSymmetry t = arrays_symmetry({"von_mises", "displacement"}, {1, 3});
  EXPECT_EQ(t.pairs, (std::vector<Pair>{{1, 2}}));
  EXPECT_EQ(t.why_not, "");
  EXPECT_NE(arrays_symmetry({"stress"}, {6}).why_not.find("6 components"), std::string::npos);
}

TEST(Features, PointRenumberingPermutesRows) {
  Mesh m = cube_mesh(6, Kind::Tet);
  std::vector<double> t(m.num_points());
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::sin(double(i));
  m.point_data.put(DataArray::from_doubles("temperature", 1, t));
  const FeatureRecipe r = FeatureRecipe::default_recipe({"temperature"});
  const FeatureMatrix x = compute_features(m, r);

  std::vector<std::int64_t> perm(m.num_points());  // new index -> old index
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(3));
  std::vector<std::int64_t> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = std::int64_t(i);
  Mesh p = m;
  std::vector<double> pt(t.size());
  for (std::size_t i = 0; i < perm.size(); ++i) {
    p.points.row(std::int64_t(i)) = m.points.row(perm[i]);
    pt[i] = t[perm[i]];
  }
  for (auto& v : p.connectivity) v = inverse[v];
  p.point_data.put(DataArray::from_doubles("temperature", 1, pt));
  const FeatureMatrix y = compute_features(p, r);
  for (std::size_t i = 0; i < perm.size(); ++i)
    ASSERT_EQ(y.row(std::int64_t(i)), x.row(perm[i])) << "new point " << i;
}

TEST(Features, RecipeJsonRoundTrip) {
  FeatureRecipe r = FeatureRecipe::default_recipe({"layer", "temperature"}, 1);
  r.origin = Eigen::Vector3d(0.1, -2.5, 1e-3);
  r.length_scale = 12.75;
  const std::string text = r.to_json().dump();
  const FeatureRecipe back = FeatureRecipe::from_json(nlohmann::json::parse(text));
  EXPECT_EQ(back.features, r.features);
  EXPECT_EQ(back.origin, r.origin);
  EXPECT_EQ(back.length_scale, r.length_scale);
  EXPECT_EQ(back.input_arrays(), (std::vector<std::string>{"layer", "temperature"}));

  auto j = r.to_json();
  j["features"].push_back("curvature");
  EXPECT_NE(input_error([&] { FeatureRecipe::from_json(j, "ckpt.h5"); }).find("curvature"),
            std::string::npos);
  j = r.to_json();
  j.erase("length_scale");
  EXPECT_NE(input_error([&] { FeatureRecipe::from_json(j, "ckpt.h5"); }).find("ckpt.h5"),
            std::string::npos);

  // Version 1 is written with exactly the keys it always had (checkpoints compare recipes).
  EXPECT_EQ(r.to_json(), nlohmann::json::parse(R"({"version": 1, "features": ["coords",
      "boundary_distance", "boundary_normal", "height", "array:layer", "array:temperature"],
      "origin": [0.1, -2.5, 0.001], "length_scale": 12.75})"));
  // Version 2 has no origin: coordinates are per mesh.
  FeatureRecipe r2 = FeatureRecipe::default_recipe({"layer"});
  r2.length_scale = 3.5;
  EXPECT_FALSE(r2.to_json().contains("origin"));
  const FeatureRecipe back2 = FeatureRecipe::from_json(r2.to_json());
  EXPECT_EQ(back2.version, 2);
  EXPECT_EQ(back2.features, r2.features);
  EXPECT_EQ(back2.length_scale, 3.5);
  j = r2.to_json();
  j["version"] = 3;
  const std::string e = input_error([&] { FeatureRecipe::from_json(j, "new.h5"); });
  EXPECT_NE(e.find("new.h5: feature recipe version 3 is not supported"), std::string::npos) << e;
}

TEST(Features, MissingOrBadArrayNamesItAndTheFile) {
  Mesh m = cube_mesh(3, Kind::Hex);
  m.point_data.put(DataArray::from_doubles("layer", 1, std::vector<double>(m.num_points(), 1.0)));
  const FeatureRecipe r = FeatureRecipe::default_recipe({"temperature"});
  const std::string e = input_error([&] { compute_features(m, r, nullptr, "part7.vtu"); });
  EXPECT_NE(e.find("part7.vtu"), std::string::npos) << e;
  EXPECT_NE(e.find("'temperature'"), std::string::npos) << e;
  EXPECT_NE(e.find("layer"), std::string::npos) << e;  // lists what the mesh does have

  std::vector<double> v(m.num_points() * 3, 0.0);
  v[5] = std::nan("");
  m.point_data.put(DataArray::from_doubles("velocity", 3, v));
  std::vector<std::string> names;
  const std::string e2 = input_error(
      [&] { compute_features(m, FeatureRecipe::default_recipe({"velocity"}), &names, "p.vtu"); });
  EXPECT_NE(e2.find("velocity"), std::string::npos) << e2;
  EXPECT_NE(e2.find("non-finite"), std::string::npos) << e2;
}

TEST(Features, MultiComponentArrayColumns) {
  Mesh m = cube_mesh(2, Kind::Hex);
  std::vector<double> v(m.num_points() * 2);
  std::iota(v.begin(), v.end(), 0.0);
  m.point_data.put(DataArray::from_doubles("uv", 2, v));
  FeatureRecipe r;
  r.features = {"array:uv", "height"};
  std::vector<std::string> names;
  const FeatureMatrix x = compute_features(m, r, &names);
  EXPECT_EQ(names, (std::vector<std::string>{"uv_0", "uv_1", "height"}));
  EXPECT_EQ(x(3, 0), 6.0f);
  EXPECT_EQ(x(3, 1), 7.0f);
}

TEST(Features, NonFiniteEntriesAreFoundAndDescribed) {
  FeatureMatrix x = FeatureMatrix::Zero(4, 3);
  EXPECT_EQ(find_non_finite(x).count, 0);
  x(2, 1) = std::numeric_limits<float>::quiet_NaN();
  x(3, 0) = std::numeric_limits<float>::infinity();
  x(1, 2) = float(1e39);  // a double beyond float's range stores as inf
  const NonFinite bad = find_non_finite(x);
  EXPECT_EQ(bad.count, 3);
  EXPECT_EQ(bad.row, 1);  // the first in row-major order
  EXPECT_EQ(bad.column, 2);
  EXPECT_EQ(bad.describe({"a", "b", "c"}), "column 'c' is inf at point 1 (3 non-finite values)");
  x(1, 2) = 0;
  x(3, 0) = 0;
  EXPECT_EQ(find_non_finite(x).describe({"a", "b", "c"}), "column 'b' is nan at point 2 (1 non-finite value)");
}
