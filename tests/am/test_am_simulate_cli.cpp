// `flare-surrogate am simulate`: end to end through the binary (read, simulate, write) and its
// exit codes for input the user can fix.
#include <gtest/gtest.h>

#include <cmath>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "mesh/io.h"
#include "tests/am/voxel_part.h"
#include "tests/support/cli.h"

namespace {

namespace fs = std::filesystem;

using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli("am simulate " + args); }

fs::path temp_dir() {
  const fs::path d = fs::path(::testing::TempDir()) / "am_simulate_cli";
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(AmSimulateCli, SolvesAVtuAndWritesTheFields) {
  const fs::path dir = temp_dir();
  const fs::path in = dir / "bracket.vtu", out = dir / "solved.vtu";
  flare::mesh::write_vtu(flare::am::test::voxel_part(8, 3, 6, 1.0, [](int i, int, int k) { return k < 2 || i < 2; }),
                         in);
  const Result r = run(in.string() + " -o " + out.string() + " --layers 3 --material 316l");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("3 layer groups"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max |u|"), std::string::npos) << r.out;
  const flare::mesh::Mesh m = flare::mesh::read_mesh(out);
  EXPECT_EQ(m.point_data.get("displacement", "test").components(), 3);
  EXPECT_TRUE(m.point_data.has("von_mises"));
  EXPECT_TRUE(m.point_data.has("layer"));
  EXPECT_EQ(m.field_strings.at("material"), "316l");
  EXPECT_EQ(m.field_data.get("layer_groups", "test").get(0), 3);

  // Layer groups of a fixed height (6 voxel layers of 1 mm in 2 mm groups), on the GPU solver's
  // host build: the same field as the CPU solver.
  const fs::path a = dir / "height_cpu.vtu", b = dir / "height_lattice.vtu";
  ASSERT_EQ(run(in.string() + " -o " + a.string() + " --layer-height 2").code, 0);
  const Result rl = run(in.string() + " -o " + b.string() + " --layer-height 2 --device lattice-host");
  ASSERT_EQ(rl.code, 0) << rl.out;
  EXPECT_NE(rl.out.find("3 layer groups"), std::string::npos) << rl.out;
  const auto ua = flare::mesh::read_mesh(a).point_data.get("displacement", "a").to_doubles();
  const auto ub = flare::mesh::read_mesh(b).point_data.get("displacement", "b").to_doubles();
  double d = 0, n = 0;
  for (std::size_t i = 0; i < ua.size(); ++i) d += (ua[i] - ub[i]) * (ua[i] - ub[i]), n += ua[i] * ua[i];
  EXPECT_LT(std::sqrt(d / n), 1e-6);
  EXPECT_EQ(flare::mesh::read_mesh(b).field_data.get("layer_height", "b").get(0), 2.0);
}

TEST(AmSimulateCli, BadInputExitsWithCode2AndOneLine) {
  const fs::path dir = temp_dir();
  const fs::path tet = dir / "tet.vtu", out = dir / "never.vtu";
  flare::mesh::Mesh t;
  t.points.resize(4, 3);
  t.points << 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1;
  t.add_cell(flare::mesh::CellType::Tetra, {0, 1, 2, 3});
  flare::mesh::write_vtu(t, tet);
  const fs::path cube = dir / "cube.vtu";
  flare::mesh::write_vtu(flare::am::test::voxel_part(2, 2, 2, 1.0, [](int, int, int) { return true; }), cube);

  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {tet.string() + " -o " + out.string(), "non-hexahedral"},
           {cube.string(), "-o SOLVED.vtu"},
           {cube.string() + " -o " + out.string() + " --material steel", "unknown material 'steel'"},
           {cube.string() + " -o " + out.string() + " --layers 2 --layer-height 1", "not both"},
           {cube.string() + " -o " + out.string() + " --layer-height -1", "--layer-height must be a positive"},
           {cube.string() + " -o " + out.string() + " --device tpu", "--device must be cpu or cuda"},
           {cube.string() + " -o " + out.string() + " --supports maybe", "--supports must be auto or none"},
           {cube.string() + " -o " + out.string() + " --layers 0", "--layers"},
           {(dir / "missing.vtu").string() + " -o " + out.string(), "missing.vtu"}}) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(expect), std::string::npos) << args << "\n" << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "expected one line: " << r.out;
  }
  EXPECT_FALSE(fs::exists(out));
}
