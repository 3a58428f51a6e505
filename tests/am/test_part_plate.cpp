// The `plate` part family (am/part_plate.h): thin plates and vanes standing on edge.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "am/geometry.h"
#include "am/part_plate.h"
#include "am/rng.h"
#include "tests/am/family_checks.h"
#include "tests/am/voxel_topology.h"

using namespace flare::am;
using Eigen::Vector3d;

namespace {

bool flag(const nlohmann::json& q, const char* key) { return q.contains(key) && q[key].get<bool>(); }

}  // namespace

// Over many seeds (no voxels): every kind and its variants occur, the part stands on the plate
// within its height, its solid inside its box, its thinnest section the plate's thickness or
// less (never below 0.5 mm: two voxels of 0.25 mm).
TEST(PlateFamily, GeneratorCoversItsKinds) {
  std::map<std::string, int> kinds;
  std::set<std::string> variants;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng = test::first_attempt("plate", seed);
    nlohmann::json q;
    const Shape s = plate_part(rng, q);
    SCOPED_TRACE(q.dump());
    const std::string kind = q["kind"];
    const double H = q["height"], t = q["thickness"];
    ++kinds[kind];
    EXPECT_GE(H, 12);
    EXPECT_LE(H, 60);
    EXPECT_GE(t, 1.0);
    EXPECT_LE(t, 3.5);
    EXPECT_EQ(s.box.min().z(), 0);
    EXPECT_LE(s.min_feature, t + 1e-12);
    EXPECT_GE(s.min_feature, 0.5);
    for (const char* key : {"round_top", "foot", "flush", "pockets"})
      if (flag(q, key)) variants.insert(kind + "/" + key);
    for (const char* key : {"lean_deg", "bow_length", "bow_height", "thinning", "sweep_mm", "platform_thickness",
                            "shroud_thickness", "offset", "bow"})
      if (q.contains(key)) variants.insert(kind + "/" + key);
    if (q.contains("holes") && q["holes"].get<int>() > 0) variants.insert(kind + "/holes");
    if (q.contains("leaf_a") && q["leaf_a"].value("holes", 0) > 0) variants.insert(kind + "/holes");
    if (q.contains("segments") && q["segments"].get<int>() > 1) variants.insert(kind + "/split");
    if (seed < 80) {  // the solid lies in the box the voxel grid spans
      Rng probe(seed);
      const Vector3d lo = s.box.min() - 0.3 * s.box.sizes(), span = 1.6 * s.box.sizes();
      int inside = 0;
      for (int i = 0; i < 4000; ++i) {
        const Vector3d p = lo + Vector3d(probe.uniform(), probe.uniform(), probe.uniform()).cwiseProduct(span);
        if (s.sdf(p) <= 0) {
          ++inside;
          EXPECT_TRUE(s.box.contains(p)) << p.transpose();
          EXPECT_LE(p.z(), H + 1e-9);
        }
      }
      EXPECT_GT(inside, 0);
    }
  }
  EXPECT_EQ(kinds.size(), 4u);
  for (const auto& [kind, n] : kinds) EXPECT_GE(n, 70) << kind;
  for (const char* v : {"leaf/round_top", "leaf/foot", "leaf/lean_deg", "leaf/bow_length", "leaf/bow_height",
                        "leaf/thinning", "leaf/holes", "pair/flush", "pair/split", "pair/holes", "vane/sweep_mm",
                        "vane/platform_thickness", "vane/shroud_thickness", "link/pockets", "link/offset",
                        "link/bow"})
    EXPECT_TRUE(variants.count(v)) << v;
}

TEST(PlateFamily, SameSeedSamePartOtherSeedOtherPart) { test::expect_same_seed_same_part("plate", 5); }

// The dataset's node range over 60 seeds: one solid standing on the plate, in range, no trapped
// powder, as tall as drawn (a leaning leaf by its lean's cosine), every kind present.
TEST(PlateFamily, SixtySeedsAreOneSolidInRange) {
  PartOptions opts;
  opts.min_nodes = 5000;
  opts.max_nodes = 30000;
  std::set<std::string> kinds;
  int redrawn = 0;
  for (std::uint64_t seed = 1000; seed < 1060; ++seed) {
    const PartSpec p = make_part("plate", seed, opts);
    SCOPED_TRACE(p.params.dump());
    const auto& q = p.params["parameters"];
    kinds.insert(q["kind"].get<std::string>());
    test::expect_one_solid_in_range(p, opts);
    const auto e = test::solid_extent(p.grid);
    const double H = q["height"];
    // A leaning leaf is shorter than its height by its lean's cosine (40 degrees at most).
    EXPECT_GE(e[2], 0.75 * H - 2 * p.grid.voxel);
    EXPECT_LE(e[2], H + 2 * p.grid.voxel);
    redrawn += p.params["attempt"].get<int>() > 0;
  }
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_LE(redrawn, 6);
}

// At two voxels across the thickness the voxelised part is the design: an upright flat leaf is
// as thin as drawn and as long, its holes are through-holes; a pair's leaves keep their holes
// (each a through-hole); a link's eye is bored.
TEST(PlateFamily, SectionsAndHolesSurviveVoxelisation) {
  int flat = 0, holed = 0, pairs = 0, links = 0;
  for (std::uint64_t seed = 0; seed < 400 && (flat < 3 || holed < 3 || pairs < 3 || links < 3); ++seed) {
    Rng rng = test::first_attempt("plate", seed);
    nlohmann::json q;
    plate_part(rng, q);
    const std::string kind = q["kind"];
    const double t = q["thickness"];
    const bool is_flat = kind == "leaf" && !q.contains("lean_deg") && !q.contains("bow_length") &&
                         !q.contains("bow_height") && !flag(q, "foot");
    const int holes = kind == "leaf" ? q.value("holes", 0) : 0;
    const int pair_holes = kind == "pair" ? q["leaf_a"].value("holes", 0) + q["leaf_b"].value("holes", 0) : 0;
    bool want = false;
    if (is_flat && flat < 3) want = true, ++flat;
    if (holes > 0 && holed < 3) want = true, ++holed;
    if (kind == "pair" && pairs < 3) want = true, ++pairs;
    if (kind == "link" && links < 3) want = true, ++links;
    if (!want) continue;
    PartOptions opts;
    opts.voxel = t / 2;
    if (q.contains("thinning")) opts.voxel *= 1 - q["thinning"].get<double>();
    const PartSpec p = make_part("plate", seed, opts);
    SCOPED_TRACE(p.params.dump());
    EXPECT_EQ(p.params["parameters"], q);  // the same design as drawn here
    EXPECT_FALSE(p.params.contains("dropped_island_voxels"));
    const std::int64_t n = test::tunnels(p.grid);
    if (is_flat) {
      const auto e = test::solid_extent(p.grid);
      EXPECT_NEAR(e[1], t, 1.01 * opts.voxel);
      EXPECT_NEAR(e[0], 2 * std::max(q["half_length"].get<double>(), q["top_half_length"].get<double>()),
                  2 * opts.voxel);
    }
    if (holes > 0) EXPECT_EQ(n, holes);
    if (kind == "pair") EXPECT_GE(n, pair_holes);
    if (kind == "link") EXPECT_GE(n, 1);
  }
  EXPECT_EQ(flat, 3);
  EXPECT_EQ(holed, 3);
  EXPECT_EQ(pairs, 3);
  EXPECT_EQ(links, 3);
}
