// The am part / am voxelize / am dataset commands through the built binary: exit codes, one-line
// errors, and outputs that read back.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "defective_surface.h"
#include "mesh/io.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli(args); }

// ASCII STL of the box [0,a]x[0,b]x[0,c]; drop_last leaves it open.
void write_box_stl(const fs::path& path, double a, double b, double c, bool drop_last = false) {
  double P[8][3];
  for (int i = 0; i < 8; ++i) P[i][0] = i & 1 ? a : 0, P[i][1] = i & 2 ? b : 0, P[i][2] = i & 4 ? c : 0;
  const int quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  std::ofstream f(path);
  f << "solid box\n";
  int written = 0;
  for (auto& q : quads)
    for (int t = 0; t < 2; ++t) {
      if (drop_last && ++written == 12) break;
      int v[3] = {q[0], q[1 + t], q[2 + t]};
      f << " facet normal 0 0 0\n  outer loop\n";
      for (int k : v) f << "   vertex " << P[k][0] << " " << P[k][1] << " " << P[k][2] << "\n";
      f << "  endloop\n endfacet\n";
    }
  f << "endsolid box\n";
}

class AmCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("flare_test_am_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string p(const std::string& name) { return (dir / name).string(); }

  // `am part --family list` names `family`, and seed 3 in nodes [lo, hi] builds a one-family part
  // on the plate; returns its drawn parameters (empty after a failed check).
  nlohmann::json listed_and_built(const std::string& family, int lo, int hi) {
    auto list = run("am part --family list");
    EXPECT_EQ(list.code, 0);
    EXPECT_NE(list.out.find("\n" + family + " "), std::string::npos) << list.out;
    const std::string out = p(family + ".vtu");
    auto r = run("am part --family " + family + " --seed 3 --nodes " + std::to_string(lo) + ".." +
                 std::to_string(hi) + " -o " + out);
    EXPECT_EQ(r.code, 0) << r.out;
    if (r.code != 0) return {};
    flare::mesh::Mesh m = flare::mesh::read_mesh(out);
    EXPECT_GE(m.num_points(), lo);
    EXPECT_LE(m.num_points(), hi);
    EXPECT_DOUBLE_EQ(m.points.col(2).minCoeff(), 0.0);
    EXPECT_EQ(m.field_strings.at("family"), family);
    return nlohmann::json::parse(m.field_strings.at("parameters"))["parameters"];
  }
  fs::path dir;
};

}  // namespace

TEST_F(AmCli, PartWritesAPlateMeshInTheNodeRange) {
  auto r = run("am part --family bridge --seed 4 --nodes 1000..3000 -o " + p("b.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  flare::mesh::Mesh m = flare::mesh::read_mesh(p("b.vtu"));
  EXPECT_GE(m.num_points(), 1000);
  EXPECT_LE(m.num_points(), 3000);
  EXPECT_DOUBLE_EQ(m.points.col(2).minCoeff(), 0.0);
  EXPECT_EQ(m.field_strings.at("family"), "bridge");
  EXPECT_NE(m.field_strings.at("parameters").find("\"arch\""), std::string::npos);
}

TEST_F(AmCli, PartListAndErrors) {
  auto list = run("am part --family list");
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("gyroid"), std::string::npos);
  auto bad = run("am part --family blob -o " + p("x.vtu"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("unknown part family 'blob'"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find('\n'), bad.out.size() - 1) << bad.out;
  EXPECT_FALSE(fs::exists(p("x.vtu")));
  EXPECT_EQ(run("am part --family wall --nodes 9..3 -o " + p("x.vtu")).code, 2);
}

TEST_F(AmCli, PartCsgIsListedAndBuilds) {
  EXPECT_NE(run("am part --family list").out.find("CAD-like"), std::string::npos);
  const auto params = listed_and_built("csg", 5000, 50000);  // the default --nodes
  EXPECT_TRUE(params["body"].contains("type")) << params;
  EXPECT_TRUE(params["features"].is_array()) << params;
}

TEST_F(AmCli, PartPatternIsListedAndBuilds) {
  const auto params = listed_and_built("pattern", 5000, 30000);
  EXPECT_TRUE(params.contains("layout") && params.contains("kind")) << params;
}

TEST_F(AmCli, PartPlateIsListedAndBuilds) {
  const auto params = listed_and_built("plate", 5000, 30000);
  EXPECT_TRUE(params.contains("kind") && params.contains("height") && params.contains("thickness")) << params;
}

TEST_F(AmCli, PartLoftIsListedAndBuilds) {
  const auto params = listed_and_built("loft", 5000, 30000);
  EXPECT_TRUE(params.contains("kind") && params.contains("size") && params.contains("section_bottom")) << params;
}

TEST_F(AmCli, VoxelizeClosedStl) {
  write_box_stl(p("box.stl"), 4, 3, 2);
  auto r = run("am voxelize " + p("box.stl") + " --voxel 0.5 -o " + p("box.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  flare::mesh::Mesh m = flare::mesh::read_mesh(p("box.vtu"));
  EXPECT_EQ(m.num_cells(), 8 * 6 * 4);
  EXPECT_EQ(m.num_points(), 9 * 7 * 5);
}

// A box with a missing triangle and a duplicated one: voxelised, with one warning line naming both.
TEST_F(AmCli, VoxelizeDefectiveStlWarnsInOneLine) {
  write_box_stl(p("open.stl"), 4, 3, 2, true);
  {
    std::ifstream in(p("open.stl"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t facet = text.find(" facet");
    const std::string first = text.substr(facet, text.find("endfacet", facet) + 9 - facet);
    text.insert(facet, first);  // the first triangle twice
    std::ofstream(p("open.stl")) << text;
  }
  auto r = run("am voxelize " + p("open.stl") + " --voxel 0.5 -o " + p("open.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  std::size_t warnings = 0;
  for (std::size_t at = r.out.find("warning:"); at != std::string::npos; at = r.out.find("warning:", at + 1)) ++warnings;
  EXPECT_EQ(warnings, 1u) << r.out;
  const std::string line = r.out.substr(r.out.find("warning:"), r.out.find('\n', r.out.find("warning:")) - r.out.find("warning:"));
  EXPECT_NE(line.find("open.stl: surface defects: 3 open edges (gaps or holes), 1 duplicated triangle (dropped)"),
            std::string::npos) << line;
  EXPECT_NE(line.find("winding number"), std::string::npos) << line;
  flare::mesh::Mesh m = flare::mesh::read_mesh(p("open.vtu"));
  EXPECT_EQ(m.num_cells(), 8 * 6 * 4);  // the planar hole is closed flat
  // Two blocks touching along an edge (the case `am voxelize` used to refuse as "not manifold").
  flare::am::test::write_stl(
      flare::am::test::lattice_surface([](int i, int j, int) { return (i < 2) == (j < 2); }, {4, 4, 2}),
      p("nonmanifold.stl"));
  auto nm = run("am voxelize " + p("nonmanifold.stl") + " --voxel 0.5 -o " + p("nm.vtu"));
  ASSERT_EQ(nm.code, 0) << nm.out;
  EXPECT_NE(nm.out.find("warning: " + p("nonmanifold.stl") + ": surface defects: 2 non-manifold edges\n"),
            std::string::npos) << nm.out;
  // `am simulate` voxelises a surface the same way, with the same one line.
  auto sim = run("am simulate " + p("open.stl") + " --voxel 1 --layers 2 -o " + p("open_solved.vtu"));
  ASSERT_EQ(sim.code, 0) << sim.out;
  EXPECT_NE(sim.out.find("warning: " + p("open.stl") + ": surface defects: 3 open edges"), std::string::npos) << sim.out;
  EXPECT_EQ(sim.out.find("warning:"), sim.out.rfind("warning:")) << sim.out;
  // A clean box: no warning.
  write_box_stl(p("box.stl"), 4, 3, 2);
  auto clean = run("am voxelize " + p("box.stl") + " --voxel 0.5 -o " + p("box.vtu"));
  EXPECT_EQ(clean.out.find("warning"), std::string::npos) << clean.out;
}

// An open sheet (a wavy plate, no thickness) has no inside: one line, exit 2, nothing written.
TEST_F(AmCli, VoxelizeOpenSheetIsExitCode2WithTheFileName) {
  flare::am::test::Soup sheet;
  const int nx = 24, ny = 8;
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i) sheet.points.emplace_back(6.0 * i / nx, 4.0 * j / ny, 0.5 * std::sin(6.0 * i / nx));
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::int64_t v = i + (nx + 1) * j;
      sheet.triangles.push_back({v, v + 1, v + nx + 2});
      sheet.triangles.push_back({v, v + nx + 2, v + nx + 1});
    }
  flare::am::test::write_stl(sheet, p("sheet.stl"));
  auto r = run("am voxelize " + p("sheet.stl") + " --voxel 0.5 -o " + p("sheet.vtu"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("sheet.stl: the surface has no inside"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  EXPECT_FALSE(fs::exists(p("sheet.vtu")));
  auto huge = run("am voxelize " + p("sheet.stl") + " --voxel 0 -o " + p("sheet.vtu"));
  EXPECT_EQ(huge.code, 2) << huge.out;
}

TEST_F(AmCli, DatasetRunsAndResumes) {
  const std::string args = "am dataset --count 2 --out " + p("ds") +
                           " --nodes 200..800 --jobs 2 --layers 2 --families wall,tube";
  auto first = run(args);
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("2 generated"), std::string::npos) << first.out;
  EXPECT_TRUE(fs::exists(dir / "ds" / "manifest.csv"));
  // -o is --out (as for every other command's output): the same folder, so the parts are reused.
  auto second = run("am dataset --count 2 -o " + p("ds") + " --nodes 200..800 --jobs 2 --layers 2 --families wall,tube");
  EXPECT_EQ(second.code, 0) << second.out;
  EXPECT_NE(second.out.find("0 generated, 2 reused"), std::string::npos) << second.out;
}

// --rtol is the tolerance of the parts' solves (looser than am simulate's by default): it is
// recorded in the manifest, a looser one takes fewer CG iterations, and a bad one is refused.
TEST_F(AmCli, DatasetRtolReachesTheSolves) {
  const std::string common = " --count 2 --nodes 300..800 --jobs 2 --layers 3 --families l_bracket,tube";
  auto iterations = [&](const std::string& name) {
    std::ifstream f(dir / name / "manifest.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    long its = 0;
    for (const auto& s : j.at("samples")) its += s.at("cg_iterations").get<long>();
    return std::make_pair(j.at("rtol").get<double>(), its);
  };
  ASSERT_EQ(run("am dataset --out " + p("ds_default") + common).code, 0);
  ASSERT_EQ(run("am dataset --out " + p("ds_tight") + common + " --rtol 1e-10").code, 0);
  const auto [rd, its_default] = iterations("ds_default");
  const auto [rt, its_tight] = iterations("ds_tight");
  EXPECT_DOUBLE_EQ(rd, 1e-6);
  EXPECT_DOUBLE_EQ(rt, 1e-10);
  EXPECT_LT(its_default, its_tight);
  const auto bad = run("am dataset --out " + p("ds_bad_rtol") + common + " --rtol 2");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--rtol must be in (0, 1)"), std::string::npos) << bad.out;
}

// --splits builds only the held-out parts, the same parts as a full run (the files differ only
// in the recorded solve time).
TEST_F(AmCli, DatasetSplitsGeneratesOnlyThoseSamples) {
  const std::string common = " --count 10 --nodes 200..600 --jobs 2 --layers 2 --families wall,tube";
  auto full = run("am dataset --out " + p("ds_full") + common);
  ASSERT_EQ(full.code, 0) << full.out;
  auto test_only = run("am dataset --out " + p("ds_test") + common + " --splits test");
  ASSERT_EQ(test_only.code, 0) << test_only.out;
  EXPECT_NE(test_only.out.find("1 generated"), std::string::npos) << test_only.out;
  std::ifstream csv(dir / "ds_test" / "manifest.csv");
  std::string header, row, extra;
  std::getline(csv, header);
  ASSERT_TRUE(std::getline(csv, row));
  EXPECT_FALSE(std::getline(csv, extra)) << "only the test sample is listed: " << extra;
  EXPECT_NE(row.find(",test,"), std::string::npos) << row;
  const std::string file = row.substr(row.find(',') + 1, row.find(',', row.find(',') + 1) - row.find(',') - 1);
  const flare::mesh::Mesh a = flare::mesh::read_mesh(dir / "ds_test" / file);
  const flare::mesh::Mesh b = flare::mesh::read_mesh(dir / "ds_full" / file);
  ASSERT_EQ(a.num_points(), b.num_points()) << file;
  EXPECT_EQ(a.points, b.points) << file;
  const auto *ua = a.point_data.find("displacement"), *ub = b.point_data.find("displacement");
  ASSERT_TRUE(ua && ub) << file;
  for (std::int64_t i = 0; i < a.num_points(); ++i)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(ua->get(i, c), ub->get(i, c)) << file << " point " << i;
  EXPECT_EQ(run("am dataset --out " + p("ds_bad") + common + " --splits tset").code, 2);
}
