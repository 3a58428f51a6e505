// Robust voxelisation on a corpus of defective surfaces generated from clean ones (a box, a frame
// with a hole through it, two-shell unions): each defect alone and all combined, compared voxel by
// voxel with the voxelisation of the clean (repaired) surface, with the defect named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "am/voxelize.h"
#include "common/error.h"
#include "defective_surface.h"
#include "tests/support/errors.h"

using namespace flare::am;
using namespace flare::am::test;
using flare::test::input_error;

namespace {

constexpr double kVoxel = 0.25;  // the lattice cell is 1.37: 5.5 voxels

struct Shape {
  const char* name;
  Soup clean;
};

std::vector<Shape> shapes() {
  const auto frame = [](int i, int j, int) { return !(i == 2 && j == 2); };
  return {{"box", lattice_surface(block({0, 0, 0}, {4, 3, 2}), {4, 3, 2})},
          {"frame", lattice_surface(frame, {5, 5, 2})},
          {"union", lattice_surface([](int i, int j, int k) {
             return block({0, 0, 0}, {4, 3, 2})(i, j, k) || block({2, 1, 1}, {6, 4, 3})(i, j, k);
           }, {6, 4, 3})}};
}

// Jaccard agreement of the solid voxels: |A ∩ B| / |A ∪ B| (grids of the same shape).
double agreement(const VoxelGrid& a, const VoxelGrid& b) {
  EXPECT_EQ(a.nx, b.nx);
  EXPECT_EQ(a.ny, b.ny);
  EXPECT_EQ(a.nz, b.nz);
  EXPECT_LT((a.origin - b.origin).norm(), 1e-6);
  if (a.size() != b.size()) return 0;
  std::int64_t both = 0, either = 0;
  for (std::int64_t v = 0; v < a.size(); ++v) {
    both += a.solid[v] && b.solid[v];
    either += a.solid[v] || b.solid[v];
  }
  return either ? double(both) / double(either) : 1.0;
}

struct Result {
  VoxelGrid grid;
  SurfaceDefects defects;
};

Result voxelize_soup(const Soup& s, double voxel = kVoxel) {
  Result r;
  r.grid = voxelize(to_mesh(s), {voxel}, "corpus.stl", &r.defects);
  return r;
}

bool mentions(const SurfaceDefects& d, const std::string& what) {
  return d.describe().find(what) != std::string::npos;
}

}  // namespace

TEST(VoxelizeDefects, CleanShapesHaveNoDefects) {
  for (const auto& shape : shapes()) {
    const Result r = voxelize_soup(shape.clean);
    EXPECT_FALSE(r.defects.any()) << shape.name << ": " << r.defects.describe();
    EXPECT_GT(r.grid.count_solid(), 0) << shape.name;
  }
}

TEST(VoxelizeDefects, FlippedTrianglesAreReorientedExactly) {
  for (const auto& shape : shapes()) {
    const VoxelGrid clean = voxelize_soup(shape.clean).grid;
    Soup s = shape.clean;
    const int n = flip_some(s, int(s.triangles.size()) / 10, 1);
    const Result r = voxelize_soup(s);
    EXPECT_EQ(r.defects.flipped, n) << shape.name;
    EXPECT_TRUE(mentions(r.defects, std::to_string(n) + " flipped triangles (reoriented)")) << r.defects.describe();
    EXPECT_FALSE(r.defects.by_winding_number) << shape.name;
    EXPECT_EQ(agreement(r.grid, clean), 1.0) << shape.name;
  }
}

TEST(VoxelizeDefects, InsideOutSurfacesAndShellsAreTurnedButCavitiesKept) {
  const Soup box = lattice_surface(block({0, 0, 0}, {4, 3, 2}), {4, 3, 2});
  Soup inverted = box;
  for (auto& t : inverted.triangles) std::swap(t[1], t[2]);
  const Result r = voxelize_soup(inverted);
  EXPECT_EQ(r.defects.flipped, std::int64_t(box.triangles.size()));
  EXPECT_EQ(r.defects.inverted_shells, 1);
  EXPECT_TRUE(mentions(r.defects, "1 shell was inside out")) << r.defects.describe();
  EXPECT_EQ(agreement(r.grid, voxelize_soup(box).grid), 1.0);

  // A cavity: the inner shell faces inward (toward the void). Kept as a void, no defect.
  const auto hollow = [](int i, int j, int k) { return !(i >= 2 && i < 4 && j >= 2 && j < 4 && k == 2); };
  const Soup hollow_clean = lattice_surface(hollow, {6, 6, 5});
  const Soup cavity = lattice_surface(block({2, 2, 2}, {4, 4, 3}), {6, 6, 5});
  const Result outer_only = voxelize_soup(lattice_surface(block({0, 0, 0}, {6, 6, 5}), {6, 6, 5}));
  Soup inward = cavity;
  for (auto& t : inward.triangles) std::swap(t[1], t[2]);
  const Result kept = voxelize_soup(concat(lattice_surface(block({0, 0, 0}, {6, 6, 5}), {6, 6, 5}), inward));
  EXPECT_FALSE(kept.defects.any()) << kept.defects.describe();
  EXPECT_EQ(agreement(kept.grid, voxelize_soup(hollow_clean).grid), 1.0);
  EXPECT_LT(kept.grid.count_solid(), outer_only.grid.count_solid());
  // A separate shell turned inside out is not a cavity: it is turned outward.
  const Soup apart = lattice_surface(block({0, 0, 0}, {2, 2, 2}), {6, 6, 5});
  Soup apart_inverted = lattice_surface(block({4, 4, 3}, {6, 6, 5}), {6, 6, 5});
  for (auto& t : apart_inverted.triangles) std::swap(t[1], t[2]);
  const Result two = voxelize_soup(concat(apart, apart_inverted));
  EXPECT_EQ(two.defects.inverted_shells, 1) << two.defects.describe();
  EXPECT_EQ(agreement(two.grid, voxelize_soup(lattice_surface([](int i, int j, int k) {
    return block({0, 0, 0}, {2, 2, 2})(i, j, k) || block({4, 4, 3}, {6, 6, 5})(i, j, k);
  }, {6, 6, 5})).grid), 1.0);
}

TEST(VoxelizeDefects, DuplicatedTrianglesAreDroppedExactly) {
  for (const auto& shape : shapes()) {
    const VoxelGrid clean = voxelize_soup(shape.clean).grid;
    Soup s = shape.clean;
    const int copies = duplicate_some(s, 6, 2);
    const Result r = voxelize_soup(s);
    EXPECT_EQ(r.defects.duplicated, copies) << shape.name;
    EXPECT_TRUE(mentions(r.defects, std::to_string(copies) + " duplicated triangles (dropped)")) << r.defects.describe();
    EXPECT_EQ(agreement(r.grid, clean), 1.0) << shape.name;
  }
  // A flipped copy (a triangle and its reverse on one shell) keeps one copy, oriented.
  Soup box = lattice_surface(block({0, 0, 0}, {4, 3, 2}), {4, 3, 2});
  const VoxelGrid clean = voxelize_soup(box).grid;
  auto t = box.triangles[5];
  std::swap(t[1], t[2]);
  box.triangles.push_back(t);
  const Result r = voxelize_soup(box);
  EXPECT_EQ(r.defects.duplicated, 1) << r.defects.describe();
  EXPECT_EQ(r.defects.internal_faces, 0);
  EXPECT_TRUE(r.defects.closed());
  EXPECT_EQ(agreement(r.grid, clean), 1.0);
}

TEST(VoxelizeDefects, ShellsTouchingOnASharedFaceAreMerged) {
  // Two blocks meeting at x = 3 cells: the smaller one's face is a copy (reversed) of part of the
  // larger one's, which makes the edges around it non-manifold (four triangles each).
  const Soup a = lattice_surface(block({0, 0, 0}, {3, 3, 2}), {5, 3, 2});
  const Soup b = lattice_surface(block({3, 0, 0}, {5, 2, 2}), {5, 3, 2});
  const Soup both = concat(a, b);
  const Soup clean = lattice_surface([](int i, int j, int k) {
    return block({0, 0, 0}, {3, 3, 2})(i, j, k) || block({3, 0, 0}, {5, 2, 2})(i, j, k);
  }, {5, 3, 2});
  const Result r = voxelize_soup(both);
  EXPECT_EQ(r.defects.internal_faces, 8) << r.defects.describe();  // 2 x 2 cells, two triangles each
  EXPECT_TRUE(mentions(r.defects, "8 faces shared by touching shells (dropped)")) << r.defects.describe();
  EXPECT_EQ(r.defects.nonmanifold_edges, 0);
  EXPECT_TRUE(r.defects.closed());
  EXPECT_EQ(agreement(r.grid, voxelize_soup(clean).grid), 1.0);
}

TEST(VoxelizeDefects, OverlappingShellsAreTheirUnion) {
  const Soup a = lattice_surface(block({0, 0, 0}, {4, 3, 2}), {6, 4, 3});
  const Soup b = lattice_surface(block({2, 1, 1}, {6, 4, 3}), {6, 4, 3});
  const Soup clean = shapes()[2].clean;
  const Result r = voxelize_soup(concat(a, b));
  // The overlap is 2 x 2 x 1 cells of 1.37: 5.48 x 5.48 x 1.37 / 0.25^3 voxel centres, about 2630.
  EXPECT_NEAR(double(r.defects.overlap_voxels), 2.0 * 2 * 1 * std::pow(1.37 / kVoxel, 3), 200) << r.defects.describe();
  EXPECT_TRUE(mentions(r.defects, "voxels inside overlapping shells")) << r.defects.describe();
  EXPECT_FALSE(r.defects.by_winding_number);
  EXPECT_EQ(agreement(r.grid, voxelize_soup(clean).grid), 1.0);
}

TEST(VoxelizeDefects, GapsOfAFractionOfAVoxelUseTheWindingNumber) {
  for (const auto& shape : shapes()) {
    for (double gap : {0.1, 0.3, 0.6, 1.0, 2.0, 4.0, -0.3, -0.6}) {
      // Negative: a slit of |gap| voxel with the top face lifted by as much (a hole that is not
      // planar: a horizontal slit and a vertical band), against the clean surface with its top
      // raised as far.
      const double lift = gap < 0 ? -gap * kVoxel : 0.0;
      Soup reference = shape.clean;
      raise_top(reference, lift);
      const VoxelGrid clean = voxelize_soup(reference).grid;
      Soup s = shape.clean;
      open_top_seam(s, std::abs(gap) * kVoxel, lift);
      const Result r = voxelize_soup(s);
      EXPECT_GT(r.defects.open_edges, 0) << shape.name;
      EXPECT_TRUE(r.defects.by_winding_number);
      EXPECT_TRUE(mentions(r.defects, "open edges (gaps or holes)")) << r.defects.describe();
      EXPECT_TRUE(mentions(r.defects, "filled where the generalized winding number >= 0.5")) << r.defects.describe();
      const double agree = agreement(r.grid, clean);
      std::printf("gap %.1f voxel, %s: agreement %.5f (%lld uncertain voxels)\n", gap, shape.name,
                  agree, static_cast<long long>(r.defects.uncertain_voxels));
      // Planar holes close exactly (1.0 measured up to 4 voxels); a non-planar gap of 0.3 voxel
      // measured 1.0, 1.0, 0.997 (box, frame, union), of 0.6 voxel 0.988, 0.994, 0.997: the
      // voxels that disagree are the top layer's along the walls, whose centres lie at the height
      // of the open band.
      EXPECT_GE(agree, gap >= -0.3 ? 0.99 : 0.98) << shape.name << " gap " << gap;
    }
  }
}

TEST(VoxelizeDefects, HoleClosingConesMatchTheWindingNumberEverywhere) {
  // The cones (used for few, local holes) against the definition evaluated at every centre.
  for (const auto& shape : shapes()) {
    Soup s = shape.clean;
    open_top_seam(s, 0.3 * kVoxel, 0.3 * kVoxel);
    flip_some(s, 5, 7);
    const Result cones = voxelize_soup(s);
    EXPECT_GT(cones.defects.closing_triangles, 0) << shape.name;
    VoxelizeOptions o{kVoxel};
    o.force_winding_number = true;
    SurfaceDefects d;
    const VoxelGrid everywhere = voxelize(to_mesh(s), o, "corpus.stl", &d);
    EXPECT_EQ(d.closing_triangles, 0);
    EXPECT_EQ(agreement(cones.grid, everywhere), 1.0) << shape.name;
    EXPECT_EQ(cones.defects.uncertain_voxels, d.uncertain_voxels) << shape.name;
  }
  // Holes all over (every 4th triangle gone): still the same voxels as the definition.
  const Soup box = shapes()[0].clean;
  const VoxelGrid clean = voxelize_soup(box).grid;
  Soup holed = box;
  holed.triangles.clear();
  for (std::size_t t = 0; t < box.triangles.size(); ++t)
    if (t % 4 != 1) holed.triangles.push_back(box.triangles[t]);
  const Result r = voxelize_soup(holed);
  VoxelizeOptions o{kVoxel};
  o.force_winding_number = true;
  // 1 voxel of 3832 differs (measured), and the cones have it right: its exact w is 0.50127, the
  // tree's far-field estimate of the definition 0.49995.
  EXPECT_GE(agreement(r.grid, voxelize(to_mesh(holed), o, "corpus.stl")), 0.999);
  std::printf("box with every 4th triangle missing: agreement %.5f\n", agreement(r.grid, clean));
  EXPECT_GE(agreement(r.grid, clean), 0.95);
  // A soup whose corners do not weld (each triangle's own, 1e-7 apart): every edge is open, the
  // cones would outnumber the triangles, and the definition is evaluated everywhere.
  Soup unwelded;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> noise(-1e-7, 1e-7);
  for (const auto& t : box.triangles) {
    std::array<std::int64_t, 3> own;
    for (int k = 0; k < 3; ++k) {
      own[k] = std::int64_t(unwelded.points.size());
      unwelded.points.push_back(box.points[t[k]] + Eigen::Vector3d(noise(rng), noise(rng), noise(rng)));
    }
    unwelded.triangles.push_back(own);
  }
  const Result u = voxelize_soup(unwelded);
  EXPECT_EQ(u.defects.open_edges, 3 * std::int64_t(box.triangles.size()));
  EXPECT_TRUE(u.defects.by_winding_number);
  EXPECT_EQ(u.defects.closing_triangles, 0);
  EXPECT_EQ(agreement(u.grid, clean), 1.0);
}

TEST(VoxelizeDefects, AllDefectsCombined) {
  // Two overlapping shells, one of them touching a third on a shared face, with flipped and
  // duplicated triangles and the top seam opened by 0.3 voxel.
  const std::array<int, 3> n{8, 4, 3};
  const Soup a = lattice_surface(block({0, 0, 0}, {4, 3, 2}), n);
  const Soup b = lattice_surface(block({2, 1, 1}, {6, 4, 3}), n);
  const Soup c = lattice_surface(block({6, 1, 1}, {8, 3, 3}), n);
  const Soup clean = lattice_surface([](int i, int j, int k) {
    return block({0, 0, 0}, {4, 3, 2})(i, j, k) || block({2, 1, 1}, {6, 4, 3})(i, j, k) ||
           block({6, 1, 1}, {8, 3, 3})(i, j, k);
  }, n);
  Soup s = concat(concat(a, b), c);
  const int flipped = flip_some(s, 20, 3);
  const int copies = duplicate_some(s, 5, 4);
  open_top_seam(s, 0.3 * kVoxel);
  const Result r = voxelize_soup(s);
  const std::string line = r.defects.describe();
  std::printf("combined: %s\n", line.c_str());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  for (const char* what : {"open edges", "duplicated triangles", "faces shared by touching shells",
                           "flipped triangles", "voxels inside overlapping shells",
                           "generalized winding number"})
    EXPECT_NE(line.find(what), std::string::npos) << what << ": " << line;
  // A flipped triangle of the shared face is dropped with it, not reoriented.
  EXPECT_LE(r.defects.flipped, flipped);
  EXPECT_GE(r.defects.flipped, flipped - 8);
  EXPECT_EQ(r.defects.duplicated, copies);
  const double agree = agreement(r.grid, voxelize_soup(clean).grid);
  std::printf("combined: agreement %.5f\n", agree);
  EXPECT_GE(agree, 0.99);
}

TEST(VoxelizeDefects, OpenSheetHasNoInside) {
  // A wavy sheet z = 0.5 sin(x) over [0, 6] x [0, 4]: its box is not flat, but nothing is inside.
  Soup s;
  const int nx = 24, ny = 8;
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i)
      s.points.emplace_back(6.0 * i / nx, 4.0 * j / ny, 0.5 * std::sin(6.0 * i / nx));
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::int64_t v = i + (nx + 1) * j;
      s.triangles.push_back({v, v + 1, v + nx + 2});
      s.triangles.push_back({v, v + nx + 2, v + nx + 1});
    }
  const std::string e = input_error([&] { voxelize_soup(s); });
  EXPECT_EQ(e.rfind("corpus.stl: the surface has no inside", 0), 0u) << e;
  EXPECT_NE(e.find("open sheet"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(VoxelizeDefects, WindingNumberAgreesWithCrossingsOnCleanShapes) {
  // The two inside tests on the same clean surfaces: crossings (used) against the winding number.
  for (const auto& shape : shapes()) {
    const Result crossings = voxelize_soup(shape.clean);
    Result wn;
    VoxelizeOptions o{kVoxel};
    o.force_winding_number = true;
    wn.grid = voxelize(to_mesh(shape.clean), o, "corpus.stl", &wn.defects);
    ASSERT_TRUE(wn.defects.by_winding_number);
    EXPECT_EQ(agreement(crossings.grid, wn.grid), 1.0) << shape.name;
    EXPECT_EQ(wn.defects.uncertain_voxels, 0) << shape.name;
    // The same surface with its top seam open by 1e-9: open edges, the same solid.
    Soup s = shape.clean;
    open_top_seam(s, 1e-9);
    const Result open = voxelize_soup(s);
    ASSERT_TRUE(open.defects.by_winding_number);
    EXPECT_EQ(agreement(crossings.grid, open.grid), 1.0) << shape.name;
  }
}
