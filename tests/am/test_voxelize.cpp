#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <numbers>

#include "am/voxelize.h"
#include "tests/am/box_surface.h"
#include "common/error.h"

using namespace flare::am;
using flare::mesh::CellType;
using flare::mesh::Mesh;

namespace {

using flare::am::test::box_surface;

// UV sphere of radius r at c; triangles outward.
Mesh sphere_surface(double r, Eigen::Vector3d c, int rings = 48, int segments = 96) {
  Mesh m;
  m.points.resize(2 + (rings - 1) * segments, 3);
  m.points.row(0) = (c + Eigen::Vector3d(0, 0, -r)).transpose();
  m.points.row(1) = (c + Eigen::Vector3d(0, 0, r)).transpose();
  auto id = [&](int ring, int seg) -> std::int64_t { return 2 + (ring - 1) * segments + (seg % segments); };
  for (int i = 1; i < rings; ++i) {
    double th = std::numbers::pi * i / rings;
    for (int j = 0; j < segments; ++j) {
      double ph = 2 * std::numbers::pi * j / segments;
      m.points.row(id(i, j)) = (c + r * Eigen::Vector3d(std::sin(th) * std::cos(ph), std::sin(th) * std::sin(ph), -std::cos(th))).transpose();
    }
  }
  for (int j = 0; j < segments; ++j) {
    m.add_cell(CellType::Triangle, {0, id(1, j + 1), id(1, j)});
    m.add_cell(CellType::Triangle, {1, id(rings - 1, j), id(rings - 1, j + 1)});
    for (int i = 1; i + 1 < rings; ++i) {
      m.add_cell(CellType::Triangle, {id(i, j), id(i, j + 1), id(i + 1, j + 1)});
      m.add_cell(CellType::Triangle, {id(i, j), id(i + 1, j + 1), id(i + 1, j)});
    }
  }
  return m;
}

double solid_volume(const VoxelGrid& g) { return double(g.count_solid()) * g.voxel * g.voxel * g.voxel; }

std::string error_of(const Mesh& m, double voxel, std::int64_t max_nodes = 20'000'000) {
  try {
    voxelize(m, {voxel, max_nodes}, "part.stl");
  } catch (const flare::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Voxelize, CubeIsExactEvenWithRaysThroughDiagonals) {
  // Column centres (i+0.5, i+0.5) lie exactly on the top and bottom faces' diagonals.
  Mesh cube = box_surface({0, 0, 0}, {10, 10, 10});
  for (double h : {1.0, 0.5, 0.25}) {
    VoxelGrid g = voxelize(cube, {h}, "cube");
    EXPECT_EQ(g.count_solid(), g.size()) << "h " << h;
    EXPECT_NEAR(solid_volume(g), 1000.0, 1e-9) << "h " << h;
  }
}

TEST(Voxelize, ShiftedBoxVolumeWithinOneVoxelLayer) {
  Mesh b = box_surface({0.13, -2.71, 5.0}, {7.3, 3.3, 9.9});
  const double exact = 7.17 * 6.01 * 4.9, area = 2 * (7.17 * 6.01 + 7.17 * 4.9 + 6.01 * 4.9);
  for (double h : {0.5, 0.2}) {
    VoxelGrid g = voxelize(b, {h}, "box");
    EXPECT_NEAR(solid_volume(g), exact, area * h / 2) << "h " << h;
  }
}

TEST(Voxelize, SphereVolumeConvergesWithVoxelSize) {
  Mesh s = sphere_surface(5.0, {1, 2, 3});
  const double exact = triangle_surface(s, "sphere").volume();  // of the tessellation
  const double area = triangle_surface(s, "sphere").area();
  EXPECT_NEAR(exact, 4.0 / 3 * std::numbers::pi * 125, 0.01 * 4.0 / 3 * std::numbers::pi * 125);
  double previous = 1e9;
  for (double h : {1.0, 0.5, 0.25}) {
    VoxelGrid g = voxelize(s, {h}, "sphere");
    double err = std::abs(solid_volume(g) - exact);
    EXPECT_LT(err, area * h / 4) << "h " << h;
    EXPECT_LT(err, previous) << "h " << h;
    previous = err;
  }
}

TEST(Voxelize, RotatedCubeHasItsVolume) {
  Mesh cube = box_surface({-4, -4, -4}, {4, 4, 4});
  Eigen::Matrix3d R = (Eigen::AngleAxisd(0.3, Eigen::Vector3d::UnitZ()) * Eigen::AngleAxisd(0.7, Eigen::Vector3d::UnitX())).toRotationMatrix();
  for (std::int64_t p = 0; p < cube.num_points(); ++p) cube.points.row(p) = (R * cube.points.row(p).transpose()).transpose();
  VoxelGrid g = voxelize(cube, {0.2}, "rotated");
  EXPECT_NEAR(solid_volume(g), 512.0, 384 * 0.2 / 2);
}

TEST(Voxelize, QuadsAreAccepted) {
  Mesh tri = box_surface({0, 0, 0}, {2, 3, 4});
  Mesh quads;
  quads.points = tri.points;
  for (std::int64_t c = 0; c < 12; c += 2) {
    const std::int64_t* a = tri.cell(c);
    quads.add_cell(CellType::Quad, {a[0], a[1], a[2], tri.cell(c + 1)[2]});
  }
  EXPECT_NEAR(solid_volume(voxelize(quads, {0.5}, "quads")), 24.0, 1e-9);
}

TEST(Voxelize, UnweldedTriangleSoupIsAccepted) {
  // Each triangle with its own copy of its corners, as STL files store them.
  Mesh welded = box_surface({0, 0, 0}, {2, 3, 4});
  Mesh soup;
  soup.points.resize(36, 3);
  for (std::int64_t c = 0; c < welded.num_cells(); ++c)
    for (int v = 0; v < 3; ++v) soup.points.row(3 * c + v) = welded.points.row(welded.cell(c)[v]);
  for (std::int64_t c = 0; c < 12; ++c) soup.add_cell(CellType::Triangle, {3 * c, 3 * c + 1, 3 * c + 2});
  EXPECT_NEAR(solid_volume(voxelize(soup, {0.5}, "soup")), 24.0, 1e-9);
}

TEST(Voxelize, MissingTriangleIsToleratedAndReported) {
  // Half of the bottom face missing: a planar hole, which the winding number closes flat.
  const Mesh full = box_surface({0, 0, 0}, {1, 1, 1});
  Mesh cube;
  cube.points = full.points;
  for (std::int64_t c = 1; c < full.num_cells(); ++c)
    cube.add_cell(CellType::Triangle, {full.cell(c)[0], full.cell(c)[1], full.cell(c)[2]});
  SurfaceDefects d;
  const VoxelGrid g = voxelize(cube, {0.1}, "part.stl", &d);
  EXPECT_EQ(d.open_edges, 3);
  EXPECT_TRUE(d.by_winding_number);
  EXPECT_EQ(g.count_solid(), 1000);
  EXPECT_EQ(d.describe().rfind("surface defects: 3 open edges (gaps or holes); filled where the "
                               "generalized winding number >= 0.5 (", 0), 0u) << d.describe();
}

TEST(Voxelize, FlippedTriangleIsReoriented) {
  Mesh cube = box_surface({0, 0, 0}, {1, 1, 1});
  std::swap(cube.connectivity[0], cube.connectivity[1]);
  SurfaceDefects d;
  const VoxelGrid g = voxelize(cube, {0.1}, "part.stl", &d);
  EXPECT_EQ(g.count_solid(), 1000);
  EXPECT_EQ(d.flipped, 1);
  EXPECT_EQ(d.describe(), "surface defects: 1 flipped triangle (reoriented)");
  SurfaceDefects clean;
  voxelize(box_surface({0, 0, 0}, {1, 1, 1}), {0.1}, "part.stl", &clean);
  EXPECT_FALSE(clean.any());
  EXPECT_EQ(clean.describe(), "");
}

TEST(Voxelize, DegenerateInputsAreInputErrors) {
  Mesh empty;
  empty.points.resize(1, 3);
  empty.points.setZero();
  EXPECT_NE(error_of(empty, 0.1).find("no surface triangles"), std::string::npos);
  // A flat, closed "surface": two triangles back to back.
  Mesh flat;
  flat.points.resize(3, 3);
  flat.points << 0, 0, 0, 1, 0, 0, 0, 1, 0;
  flat.add_cell(CellType::Triangle, {0, 1, 2});
  flat.add_cell(CellType::Triangle, {0, 2, 1});
  EXPECT_NE(error_of(flat, 0.1).find("flat"), std::string::npos);
  // A box and its reverse: every triangle cancels its copy.
  Mesh both = box_surface({0, 0, 0}, {1, 1, 1});
  for (std::int64_t c = 0; c < 12; ++c) {
    const std::int64_t a = both.cell(c)[0], b = both.cell(c)[1], d = both.cell(c)[2];
    both.add_cell(CellType::Triangle, {a, d, b});
  }
  EXPECT_NE(error_of(both, 0.1).find("every triangle is cancelled by a reversed copy"), std::string::npos);
  Mesh cube = box_surface({0, 0, 0}, {1, 1, 1});
  EXPECT_NE(error_of(cube, 0).find("positive"), std::string::npos);
  Mesh hex;
  hex.points = cube.points;
  hex.add_cell(CellType::Hexahedron, {0, 1, 3, 2, 4, 5, 7, 6});
  EXPECT_NE(error_of(hex, 0.1).find("volume cells"), std::string::npos);
}

TEST(Voxelize, TooManyNodesIsRefusedWithASuggestion) {
  Mesh cube = box_surface({0, 0, 0}, {100, 100, 100});
  std::string msg = error_of(cube, 0.01, 2'000'000);  // 1e12 voxels: must be refused before allocating
  EXPECT_NE(msg.find("nodes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--voxel"), std::string::npos) << msg;
  // The suggested size must itself be accepted.
  double suggested = std::stod(msg.substr(msg.find("--voxel ") + 8));
  EXPECT_GT(suggested, 0.01);
  EXPECT_NO_THROW(voxelize(cube, {suggested, 2'000'000}, "cube"));
  EXPECT_NE(error_of(cube, 0.5, 1000).find("about"), std::string::npos);
}

TEST(Voxelize, RaysThroughVerticesAndEdgesKeepParity) {
  // Octahedron |x|+|y|+|z| <= 2.5 with h = 1: the poles, the pole-equator edges and many face
  // points lie exactly on voxel-centre columns and centres.
  const double a = 2.5;
  Mesh m;
  m.points.resize(6, 3);
  m.points << a, 0, 0, -a, 0, 0, 0, a, 0, 0, -a, 0, 0, 0, a, 0, 0, -a;
  const int eq[4] = {0, 2, 1, 3};  // counter-clockwise around +z
  for (int e = 0; e < 4; ++e) {
    m.add_cell(CellType::Triangle, {eq[e], eq[(e + 1) % 4], 4});
    m.add_cell(CellType::Triangle, {eq[(e + 1) % 4], eq[e], 5});
  }
  VoxelGrid g = voxelize(m, {1.0}, "octahedron");
  ASSERT_EQ(g.nx, 5);
  std::int64_t strict = 0, closed = 0;
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 5; ++i) {
        double l1 = std::abs(i - 2.0) + std::abs(j - 2.0) + std::abs(k - 2.0);
        strict += l1 < a;
        closed += l1 <= a;
        if (l1 < a) EXPECT_TRUE(g.at(i, j, k)) << i << " " << j << " " << k;
        if (l1 > a) EXPECT_FALSE(g.at(i, j, k)) << i << " " << j << " " << k;
      }
  EXPECT_GE(g.count_solid(), strict);
  EXPECT_LE(g.count_solid(), closed);
  EXPECT_TRUE(g.at(2, 2, 0) && g.at(2, 2, 4));  // the pole column is filled end to end
}

TEST(Voxelize, SnappedOctahedraNeverBreakParity) {
  // Octahedra |dx|/ax + |dy|/ay + |dz|/az <= 1 with centres and radii on the half-voxel lattice:
  // vertices, edges and faces hit voxel-centre rays and centres exactly, in every combination.
  // Centres strictly inside must be solid and those strictly outside empty (the inequality is
  // evaluated exactly: all values are small multiples of 0.5).
  unsigned state = 7;
  auto half = [&](int lo, int hi) {
    state = state * 1664525u + 1013904223u;
    return 0.5 * (lo + int((state >> 8) % unsigned(hi - lo + 1)));
  };
  for (int trial = 0; trial < 40; ++trial) {
    const Eigen::Vector3d c(half(0, 6), half(0, 6), half(0, 6));
    const Eigen::Vector3d r(half(2, 9), half(2, 9), half(2, 9));
    Mesh m;
    m.points.resize(6, 3);
    m.points << c.x() + r.x(), c.y(), c.z(), c.x() - r.x(), c.y(), c.z(), c.x(), c.y() + r.y(), c.z(),
        c.x(), c.y() - r.y(), c.z(), c.x(), c.y(), c.z() + r.z(), c.x(), c.y(), c.z() - r.z();
    const int eq[4] = {0, 2, 1, 3};
    for (int e = 0; e < 4; ++e) {
      m.add_cell(CellType::Triangle, {eq[e], eq[(e + 1) % 4], 4});
      m.add_cell(CellType::Triangle, {eq[(e + 1) % 4], eq[e], 5});
    }
    VoxelGrid g = voxelize(m, {1.0}, "octahedron");
    for (int k = 0; k < g.nz; ++k)
      for (int j = 0; j < g.ny; ++j)
        for (int i = 0; i < g.nx; ++i) {
          Eigen::Vector3d p = g.origin + Eigen::Vector3d(i + 0.5, j + 0.5, k + 0.5);
          Eigen::Vector3d d = (p - c).cwiseAbs();
          double lhs = d.x() * r.y() * r.z() + d.y() * r.x() * r.z() + d.z() * r.x() * r.y();
          double rhs = r.x() * r.y() * r.z();
          if (lhs < rhs) ASSERT_TRUE(g.at(i, j, k)) << "trial " << trial << " voxel " << i << " " << j << " " << k;
          if (lhs > rhs) ASSERT_FALSE(g.at(i, j, k)) << "trial " << trial << " voxel " << i << " " << j << " " << k;
        }
  }
}
