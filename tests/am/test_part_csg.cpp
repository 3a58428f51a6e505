// The CSG primitives of am/sdf.h and the `csg` part family (am/part_csg.h).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "am/geometry.h"
#include "am/part_csg.h"
#include "am/rng.h"
#include "am/sdf.h"
#include "tests/am/family_checks.h"
#include "tests/am/voxel_topology.h"

using namespace flare::am;
using Eigen::Vector3d;

namespace {

constexpr double kPi = std::numbers::pi;

// Every point where the shape is solid lies in its box (sampled around the box).
void expect_box_holds_solid(const Shape& s, const char* what) {
  Rng rng(17);
  const Vector3d lo = s.box.min() - 0.5 * s.box.sizes(), size = 2 * s.box.sizes();
  const Eigen::AlignedBox3d padded(s.box.min() - Vector3d::Constant(1e-9),
                                   s.box.max() + Vector3d::Constant(1e-9));
  int solid = 0;
  for (int i = 0; i < 4000; ++i) {
    const Vector3d p =
        lo + Vector3d(rng.uniform(), rng.uniform(), rng.uniform()).cwiseProduct(size);
    if (s.sdf(p) > 0) continue;
    ++solid;
    EXPECT_TRUE(padded.contains(p)) << what << ": solid at " << p.transpose() << " outside its box";
  }
  EXPECT_GT(solid, 0) << what;
}

}  // namespace

TEST(Sdf, Sphere) {
  Shape s = sphere(Vector3d(1, 2, 3), 2);
  EXPECT_NEAR(s.sdf(Vector3d(1, 2, 3)), -2, 1e-12);
  EXPECT_LT(s.sdf(Vector3d(1, 2, 4.9)), 0);
  EXPECT_NEAR(s.sdf(Vector3d(3.1, 2, 3)), 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(s.min_feature, 4);
  expect_box_holds_solid(s, "sphere");
}

TEST(Sdf, FrustumAlongZAndOblique) {
  Shape cone = frustum(Vector3d(0, 0, 0), Vector3d(0, 0, 4), 2, 1);  // radius 2 - z/4
  EXPECT_LT(cone.sdf(Vector3d(1.4, 0, 1)), 0);                       // radius 1.75 there
  EXPECT_GT(cone.sdf(Vector3d(1.6, 0, 3)), 0);                       // radius 1.25 there
  EXPECT_LT(cone.sdf(Vector3d(0, 0, 3.9)), 0);
  EXPECT_GT(cone.sdf(Vector3d(0, 0, 4.1)), 0);
  EXPECT_GT(cone.sdf(Vector3d(0, 0, -0.1)), 0);
  EXPECT_TRUE(cone.box.isApprox(Eigen::AlignedBox3d(Vector3d(-2, -2, 0), Vector3d(2, 2, 4))));
  expect_box_holds_solid(cone, "cone");

  Shape tilted = frustum(Vector3d(0, 0, 0), Vector3d(3, 3, 3), 1, 1);
  const Vector3d mid(1.5, 1.5, 1.5), across = Vector3d(1, -1, 0).normalized();
  EXPECT_LT(tilted.sdf(mid + 0.9 * across), 0);
  EXPECT_GT(tilted.sdf(mid + 1.1 * across), 0);
  EXPECT_NEAR(tilted.sdf(mid + 1.5 * across), 0.5, 1e-12);
  // The box of the end discs: r sqrt(1 - 1/3) beyond the end points on every axis.
  EXPECT_NEAR(tilted.box.min().x(), -std::sqrt(2.0 / 3), 1e-12);
  expect_box_holds_solid(tilted, "oblique cylinder");

  Shape point = frustum(Vector3d(1, 1, 0), Vector3d(1, 1, 2), 1, 0);  // a cone to a point
  EXPECT_LT(point.sdf(Vector3d(1, 1, 1.9)), 0);
  EXPECT_GT(point.sdf(Vector3d(1.2, 1, 1.9)), 0);
}

TEST(Sdf, Torus) {
  Shape ring = torus(Vector3d(0, 0, 1), Vector3d(0, 0, 2), 3, 0.5);
  EXPECT_NEAR(ring.sdf(Vector3d(3, 0, 1)), -0.5, 1e-12);
  EXPECT_GT(ring.sdf(Vector3d(0, 0, 1)), 0);  // the hole
  EXPECT_GT(ring.sdf(Vector3d(3, 0, 1.6)), 0);
  EXPECT_LT(ring.sdf(Vector3d(0, 3.4, 1)), 0);
  expect_box_holds_solid(ring, "torus");
  Shape standing = torus(Vector3d::Zero(), Vector3d::UnitX(), 3, 0.5);  // in the y-z plane
  EXPECT_LT(standing.sdf(Vector3d(0, 0, 3)), 0);
  EXPECT_GT(standing.sdf(Vector3d(3, 0, 0)), 0);
  EXPECT_NEAR(standing.box.sizes().x(), 1, 1e-12);
  expect_box_holds_solid(standing, "standing torus");
}

TEST(Sdf, Wedge) {
  Shape w = wedge(Vector3d(4, 1, 2));  // z <= 2 (1 - x/4)
  EXPECT_LT(w.sdf(Vector3d(0.5, 0.5, 1.5)), 0);
  EXPECT_GT(w.sdf(Vector3d(3, 0.5, 1)), 0);
  EXPECT_LT(w.sdf(Vector3d(3, 0.5, 0.4)), 0);
  EXPECT_GT(w.sdf(Vector3d(0.5, 1.5, 0.5)), 0);
  EXPECT_GT(w.sdf(Vector3d(0.5, 0.5, -0.1)), 0);
  expect_box_holds_solid(w, "wedge");
}

TEST(Sdf, ExtrudedPolygonIsSignedInEitherWinding) {
  std::vector<Eigen::Vector2d> l = {{0, 0}, {4, 0}, {4, 1}, {1, 1}, {1, 3}, {0, 3}};
  for (bool reversed : {false, true}) {
    if (reversed) std::reverse(l.begin(), l.end());
    Shape s = extruded_polygon(l, 0, 2);
    EXPECT_NEAR(s.sdf(Vector3d(0.5, 2, 1)), -0.5, 1e-12);
    EXPECT_NEAR(s.sdf(Vector3d(2, 2, 1)), 1, 1e-12);  // in the notch of the L
    EXPECT_LT(s.sdf(Vector3d(3, 0.5, 1)), 0);
    EXPECT_GT(s.sdf(Vector3d(3, 0.5, 2.5)), 0);
    EXPECT_GT(s.sdf(Vector3d(-0.1, 0.5, 1)), 0);
    expect_box_holds_solid(s, "L prism");
  }
}

TEST(Sdf, ChamferedBoxBevelsEdgesOnly) {
  Shape s = chamfered_box(Vector3d(0, 0, 0), Vector3d(4, 4, 4), 1);
  EXPECT_LT(s.sdf(Vector3d(2, 2, 2)), 0);
  EXPECT_GT(s.sdf(Vector3d(0.3, 0.3, 2)), 0);  // cut off by the bevel of the vertical edge
  EXPECT_LT(s.sdf(Vector3d(0.6, 0.6, 2)), 0);
  EXPECT_LT(s.sdf(Vector3d(0.2, 2, 2)), 0);  // near a face, away from edges
  EXPECT_GT(s.sdf(Vector3d(2, 3.8, 3.8)), 0);
  expect_box_holds_solid(s, "chamfered box");
}

TEST(Sdf, TransformRotateScale) {
  Shape b = box(Vector3d(0, 0, 0), Vector3d(2, 1, 1));
  Shape r = rotate(b, Vector3d::UnitZ(), kPi / 2, Vector3d::Zero());  // now x in [-1,0], y in [0,2]
  EXPECT_LT(r.sdf(Vector3d(-0.5, 1.5, 0.5)), 0);
  EXPECT_GT(r.sdf(Vector3d(0.5, 0.5, 0.5)), 0);
  EXPECT_TRUE(r.box.isApprox(Eigen::AlignedBox3d(Vector3d(-1, 0, 0), Vector3d(0, 2, 1)), 1e-12));
  Shape about = rotate(b, Vector3d::UnitY(), kPi, Vector3d(1, 0, 1));  // turned over in place
  EXPECT_LT(about.sdf(Vector3d(0.5, 0.5, 1.5)), 0);
  EXPECT_GT(about.sdf(Vector3d(0.5, 0.5, 0.5)), 0);
  expect_box_holds_solid(rotate(b, Vector3d(1, 2, 3), 0.7, Vector3d(1, 1, 1)), "rotated box");

  Shape s = scale(sphere(Vector3d::Zero(), 1), 3);
  EXPECT_LT(s.sdf(Vector3d(2.9, 0, 0)), 0);
  EXPECT_GT(s.sdf(Vector3d(3.1, 0, 0)), 0);
  EXPECT_DOUBLE_EQ(s.min_feature, 6);
  EXPECT_DOUBLE_EQ(s.box.max().x(), 3);
}

TEST(CsgFamily, SameSeedSamePartOtherSeedOtherPart) { test::expect_same_seed_same_part("csg", 11); }

// Over many seeds (no voxels): every body and feature kind occurs, the parameters are recorded
// and the shape stands on the plate with the drawn size as its largest dimension.
TEST(CsgFamily, GeneratorCoversItsCatalogue) {
  std::set<std::string> bodies, features, faces;
  int text = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed);
    nlohmann::json p;
    Shape s = csg_part(rng, p);
    SCOPED_TRACE(p.dump());
    const double size = p["size_mm"];
    EXPECT_GE(size, 10);
    EXPECT_LE(size, 120);
    EXPECT_EQ(s.box.min().z(), 0);
    EXPECT_NEAR(s.box.sizes().maxCoeff(), size, 1e-9 * size);
    EXPECT_NEAR(s.min_feature, p["min_thickness"].get<double>() * p["scale"].get<double>(), 1e-12);
    EXPECT_GE(s.min_feature, size / 60);  // the node range can resolve it
    bodies.insert(p["body"]["type"].get<std::string>());
    for (const auto& f : p["features"]) {
      features.insert(f["type"].get<std::string>());
      if (f.contains("face")) faces.insert(f["face"].get<std::string>());
      if (f["type"] == "lettering") text += !f["text"].get<std::string>().empty();
    }
  }
  EXPECT_EQ(bodies,
            (std::set<std::string>{"bar", "block", "bracket", "housing", "profile", "turned"}));
  EXPECT_EQ(features, (std::set<std::string>{"boss", "bridge", "channel", "handle", "hole", "ledge",
                                             "lettering", "pocket", "rib", "sphere", "thin_wall"}));
  EXPECT_GT(text, 10);
  EXPECT_TRUE(faces.count("top") && faces.count("+x") && faces.count("floor") &&
              faces.count("web"));
}

// The default node range over 30 seeds: one solid on the plate in range, sizes across 10-120 mm,
// through-holes (tunnels in the voxel topology) and overhangs in many parts, few redraws.
TEST(CsgFamily, ThirtySeedsAreBuildableVariedParts) {
  const PartOptions opts;  // 5000..50000 nodes
  int tunnels = 0, overhangs = 0, redrawn = 0;
  double smallest = 1e9, largest = 0;
  for (std::uint64_t seed = 100; seed < 130; ++seed) {
    PartSpec p = make_part("csg", seed, opts);
    SCOPED_TRACE(p.params.dump());
    EXPECT_GE(p.nodes, opts.min_nodes);
    EXPECT_LE(p.nodes, opts.max_nodes);
    std::vector<std::int32_t> labels;
    EXPECT_EQ(label_components(p.grid, labels), 1);
    IslandReport r;
    flare::mesh::Mesh m = voxel_mesh(p.grid, &r);
    EXPECT_EQ(r.dropped_islands, 0);
    EXPECT_EQ(m.num_points(), p.nodes);
    EXPECT_EQ(test::enclosed_cavities(p.grid), 0);  // no trapped powder
    const auto e = test::solid_extent(p.grid);
    const double extent = std::max({e[0], e[1], e[2]}), size = p.params["parameters"]["size_mm"];
    EXPECT_LE(extent, size + 2 * p.grid.voxel);
    EXPECT_GE(extent, 0.6 * size);
    smallest = std::min(smallest, extent), largest = std::max(largest, extent);
    tunnels += 1 - test::euler_characteristic(p.grid) > 0;
    overhangs += test::overhang_faces(p.grid) > 100;
    redrawn += p.params["attempt"].get<int>() > 0;
  }
  EXPECT_LT(smallest, 20);
  EXPECT_GT(largest, 70);
  EXPECT_GE(tunnels, 12);
  EXPECT_GE(overhangs, 18);
  EXPECT_LE(redrawn, 3);
}
