// The generalized winding number: exact solid angles on shapes with a known answer, and the fast
// (tree + far-field expansion) evaluation against the exact sum.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "mesh/winding_number.h"

using namespace flare::mesh;
using Eigen::Vector3d;

namespace {

// UV sphere of radius r at the origin, outward; `rings_kept` < rings leaves the top open.
void sphere(int rings, int segments, Points& p, Triangles& t, int rings_kept = -1) {
  if (rings_kept < 0) rings_kept = rings;
  p.resize(2 + (rings - 1) * segments, 3);
  p.row(0) << 0, 0, -1;
  p.row(1) << 0, 0, 1;
  auto id = [&](int ring, int seg) { return 2 + (ring - 1) * segments + (seg % segments); };
  for (int i = 1; i < rings; ++i)
    for (int j = 0; j < segments; ++j) {
      const double th = std::numbers::pi * i / rings, ph = 2 * std::numbers::pi * j / segments;
      p.row(id(i, j)) << std::sin(th) * std::cos(ph), std::sin(th) * std::sin(ph), -std::cos(th);
    }
  std::vector<std::array<std::int64_t, 3>> tris;
  for (int j = 0; j < segments; ++j) {
    tris.push_back({0, id(1, j + 1), id(1, j)});
    if (rings_kept == rings) tris.push_back({1, id(rings - 1, j), id(rings - 1, j + 1)});
    for (int i = 1; i + 1 < rings && i + 1 <= rings_kept; ++i) {
      tris.push_back({id(i, j), id(i, j + 1), id(i + 1, j + 1)});
      tris.push_back({id(i, j), id(i + 1, j + 1), id(i + 1, j)});
    }
  }
  t.resize(Eigen::Index(tris.size()), 3);
  for (std::size_t k = 0; k < tris.size(); ++k) t.row(Eigen::Index(k)) << tris[k][0], tris[k][1], tris[k][2];
}

}  // namespace

TEST(WindingNumber, TriangleSolidAngles) {
  // Regular tetrahedron: from its centre each face subtends a quarter of the sphere.
  const Vector3d v[4] = {{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}};
  const int faces[4][3] = {{0, 1, 2}, {0, 3, 1}, {0, 2, 3}, {1, 3, 2}};  // outward
  double sum = 0;
  for (auto& f : faces) {
    const double w = triangle_winding(v[f[0]], v[f[1]], v[f[2]], Vector3d::Zero());
    EXPECT_NEAR(w, 0.25, 1e-14);
    sum += w;
    EXPECT_NEAR(triangle_winding(v[f[0]], v[f[2]], v[f[1]], Vector3d::Zero()), -0.25, 1e-14);
  }
  EXPECT_NEAR(sum, 1.0, 1e-14);
  // An octant: the triangle (e_x, e_y, e_z) seen from the origin, and nothing from its own plane.
  EXPECT_NEAR(triangle_winding({1, 0, 0}, {0, 1, 0}, {0, 0, 1}, Vector3d::Zero()), 1.0 / 8, 1e-14);
  EXPECT_EQ(triangle_winding({0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0.2, 0.2, 0}), 0.0);
  EXPECT_EQ(triangle_winding({0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {3, 3, 0}), 0.0);
}

TEST(WindingNumber, ClosedSphereIsOneInsideZeroOutsideAndFastMatchesExact) {
  Points p;
  Triangles t;
  sphere(40, 80, p, t);
  const WindingNumber wn(p, t), wn4(p, t, 4.0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-2, 2);
  double worst = 0, worst4 = 0;
  for (int k = 0; k < 2000; ++k) {
    const Vector3d q(u(rng), u(rng), u(rng));
    const double r = q.norm();
    if (std::abs(r - 1) < 0.02) continue;  // the tessellation is within 0.002 of the sphere
    const double exact = wn.exact(q);
    EXPECT_NEAR(exact, r < 1 ? 1.0 : 0.0, 1e-9) << q.transpose();
    worst = std::max(worst, std::abs(wn(q) - exact));
    worst4 = std::max(worst4, std::abs(wn4(q) - exact));
  }
  // Far-field error with beta = 2 and second-order expansions: measured worst 6.7e-3 (mean 6e-4)
  // over these points when written, 2.1e-4 at beta = 4: ~30x per doubling of beta. Without the
  // second-order term it was 6.4e-2 and 1.8e-2 (4x, a first-order truncation).
  EXPECT_LT(worst, 0.02);
  EXPECT_LT(worst4, worst / 10);
  // Reversed orientation negates it.
  Triangles flipped = t;
  flipped.col(1).swap(flipped.col(2));
  EXPECT_NEAR(WindingNumber(p, flipped)(Vector3d(0.1, 0.2, -0.3)), -1.0, 0.02);
  EXPECT_NEAR(WindingNumber(p, flipped).exact(Vector3d(0.1, 0.2, -0.3)), -1.0, 1e-9);
}

TEST(WindingNumber, OpenSurfacesDegradeGracefully) {
  // The lower hemisphere alone (a bowl): 1/2 on its rim's disc, more inside the bowl, less above.
  Points p;
  Triangles t;
  sphere(40, 80, p, t, 20);
  const WindingNumber wn(p, t);
  EXPECT_NEAR(wn.exact(Vector3d(0, 0, 0)), 0.5, 1e-3);
  EXPECT_NEAR(wn(Vector3d(0.3, -0.2, 0)), 0.5, 2e-3);
  EXPECT_GT(wn(Vector3d(0, 0, -0.8)), 0.75);
  EXPECT_LT(wn(Vector3d(0, 0, 0.5)), 0.5);
  EXPECT_NEAR(wn(Vector3d(0, 0, 5)), 0.0, 0.01);
  // A sphere with a small cap cut off (one ring of 40 missing): nearly 1 inside, far from the gap.
  sphere(40, 80, p, t, 39);
  const WindingNumber holed(p, t);
  EXPECT_GT(holed(Vector3d(0, 0, 0)), 0.99);
  EXPECT_LT(holed(Vector3d(0, 0, 1.5)), 0.05);
}
