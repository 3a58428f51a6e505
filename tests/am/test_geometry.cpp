#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "am/geometry.h"
#include "common/error.h"

using namespace flare::am;

namespace {

int lowest_layer(const VoxelGrid& g) {
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i)
        if (g.at(i, j, k)) return k;
  return -1;
}

}  // namespace

class EveryFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryFamily, PlateConnectedSingleComponentInRange) {
  PartOptions opts;
  opts.min_nodes = 2000;
  opts.max_nodes = 8000;
  for (std::uint64_t seed : {1ull, 2ull, 3ull, 1234567ull}) {
    PartSpec p = make_part(GetParam(), seed, opts);
    SCOPED_TRACE(p.params.dump());
    EXPECT_GE(p.nodes, opts.min_nodes);
    EXPECT_LE(p.nodes, opts.max_nodes);
    EXPECT_EQ(p.nodes, p.grid.count_nodes());
    EXPECT_EQ(lowest_layer(p.grid), 0);  // the shape stands on z = 0
    std::vector<std::int32_t> labels;
    EXPECT_EQ(label_components(p.grid, labels), 1);
    IslandReport r;
    flare::mesh::Mesh m = voxel_mesh(p.grid, &r);
    EXPECT_EQ(r.dropped_islands, 0);
    EXPECT_EQ(m.num_points(), p.nodes);
    EXPECT_DOUBLE_EQ(m.points.col(2).minCoeff(), 0.0);
    EXPECT_EQ(p.params["family"], GetParam());
    EXPECT_TRUE(p.params["parameters"].is_object());
    EXPECT_GT(p.params["voxel"].get<double>(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Geometry, EveryFamily, ::testing::ValuesIn(part_families()),
                         [](const auto& info) { return info.param; });

TEST(Geometry, SameSeedSamePart) {
  for (const std::string& f : part_families()) {
    PartSpec a = make_part(f, 42), b = make_part(f, 42);
    EXPECT_EQ(a.params, b.params) << f;
    EXPECT_EQ(a.grid.solid, b.grid.solid) << f;
    EXPECT_EQ(a.grid.origin, b.grid.origin) << f;
  }
}

TEST(Geometry, DifferentSeedsDifferentParts) {
  for (const std::string& f : part_families()) {
    PartSpec a = make_part(f, 1), b = make_part(f, 2);
    EXPECT_NE(a.params["parameters"], b.params["parameters"]) << f;
  }
}

TEST(Geometry, DefaultRangeIsMet) {
  PartSpec p = make_part("l_bracket", 7);
  EXPECT_GE(p.nodes, 5000);
  EXPECT_LE(p.nodes, 50000);
}

TEST(Geometry, FixedVoxelSizeIsUsed) {
  PartOptions opts;
  opts.voxel = 1.0;
  PartSpec p = make_part("wall", 3, opts);
  EXPECT_DOUBLE_EQ(p.grid.voxel, 1.0);
  const auto& q = p.params["parameters"];
  // A wall is a box: a voxel is solid when its centre is inside, so counts are rounded sizes.
  auto n = [](double len) { return std::floor(len / 1.0 + 0.5); };  // centres inside
  EXPECT_EQ(p.grid.count_solid(),
            std::int64_t(n(q["length"]) * n(q["thickness"]) * n(q["height"])));
}

TEST(Geometry, BadRequestsAreInputErrors) {
  EXPECT_THROW(make_part("spaceship", 1), flare::InputError);
  PartOptions narrow;
  narrow.min_nodes = 5000;
  narrow.max_nodes = 5001;
  EXPECT_THROW(make_part("wall", 1, narrow), flare::InputError);
  PartOptions huge;
  huge.voxel = 1e-4;
  EXPECT_THROW(make_part("wall", 1, huge), flare::InputError);
}

// The families added for shapes the others lack: every kind is drawn and makes a part (a kind
// whose parts always left the node range would silently never appear, make_part redrawing).
TEST(Geometry, SweepAndShellMakeEveryKind) {
  PartOptions opts;
  opts.min_nodes = 3000;
  opts.max_nodes = 12000;
  for (const auto& [family, kinds] : std::vector<std::pair<std::string, std::set<std::string>>>{
           {"sweep", {"elbow", "arch", "hook", "ring"}}, {"shell", {"dome", "cup", "enclosure", "vase"}}}) {
    std::set<std::string> seen;
    int hollow = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      const PartSpec p = make_part(family, seed, opts);
      const auto& q = p.params["parameters"];
      seen.insert(q["kind"].get<std::string>());
      hollow += q.contains("hollow") && q["hollow"].get<bool>();
    }
    EXPECT_EQ(seen, kinds) << family;
    if (family == "sweep") EXPECT_GE(hollow, 5) << "hollow tubes are a good share of the parts";
  }
}
