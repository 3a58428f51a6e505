// bench simulate and am layer-study through the built binary: their tables, JSONL rows, and
// one-line errors for bad options. The lattice solver runs as its host build (lattice-host).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/cli.h"

namespace fs = std::filesystem;
using flare::test::lines;
using flare::test::run_cli;

namespace {

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("flare_" + name + "_" + std::to_string(::getpid()) + ".jsonl");
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace

TEST(SimulateToolsCli, BenchSimulateTimesOursBesideTheCpuSolver) {
  const fs::path jsonl = temp_file("bench_simulate");
  fs::remove(jsonl);
  const auto r = run_cli("bench simulate --nodes 2000 --layers 2 --device lattice-host --baseline --batch 2 "
                         "--cpu-parts 1 --jsonl " + jsonl.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| one part | lattice-host |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| one part | cpu |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| dataset batch | lattice-host |"), std::string::npos) << r.out;
  const auto rows = read_jsonl(jsonl);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("bench"), "simulate");
    EXPECT_EQ(row.at("config").at("device"), "lattice-host");
    EXPECT_GT(row.at("result").at("median_s").get<double>(), 0.0);
  }
  // The same part and layering on both solvers: the same number of layer solves.
  EXPECT_EQ(rows[0].at("result").at("solves"), rows[1].at("result").at("solves"));
  EXPECT_EQ(rows[2].at("result").at("parts"), 2);
  EXPECT_EQ(rows[3].at("result").at("parts"), 1);
  fs::remove(jsonl);

  const auto bad = run_cli("bench simulate --device tpu");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.out), 1) << bad.out;
  EXPECT_NE(bad.out.find("--device must be cuda, cpu or lattice-host"), std::string::npos) << bad.out;
}

TEST(SimulateToolsCli, LayerStudyComparesLayeringsAndPicksALayerHeight) {
  const fs::path jsonl = temp_file("layer_study");
  fs::remove(jsonl);
  const std::string part = std::string(FLARE_SOURCE_DIR) + "/examples/lpbf/bracket.stl:10";
  const auto r = run_cli("am layer-study --parts " + part + " --voxels 8,16 --layer-heights 4,2 --device cpu --jsonl " +
                         jsonl.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("layer height:"), std::string::npos) << r.out;
  // 8 and 16 voxels across 10 mm (1.25 and 0.625 mm): on the first, layers of 4 mm and of one
  // voxel (2 mm is under two voxel layers: one voxel layer a group); on the second 4 and 2 mm.
  const auto rows = read_jsonl(jsonl);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) EXPECT_EQ(row.at("result").at("part"), "bracket@10");
  EXPECT_TRUE(rows[0].at("result").at("to_next_finer_layer").is_number());
  EXPECT_TRUE(rows[0].at("result").at("to_voxel_halved").is_number());
  EXPECT_EQ(rows[1].at("result").at("layer_mm"), 1.25);
  EXPECT_TRUE(rows[3].at("result").at("to_next_finer_layer").is_null());  // nothing finer
  fs::remove(jsonl);

  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"--parts " + part + " --voxels 0,16", "--voxels values must be positive"},
           {"--parts nowhere.stl", "is not SURFACE:SIZE"},
           {"--parts " + part + " --device tpu", "--device must be cuda or cpu"}}) {
    const auto bad = run_cli("am layer-study " + args);
    EXPECT_EQ(bad.code, 2) << args << ": " << bad.out;
    EXPECT_EQ(lines(bad.out), 1) << args << ": " << bad.out;
    EXPECT_NE(bad.out.find(expect), std::string::npos) << args << ": " << bad.out;
  }
}

TEST(SimulateToolsCli, AmDatasetRefusesBadLayeringSupportsAndDevice) {
  const std::string out = (fs::temp_directory_path() / ("flare_ds_bad_" + std::to_string(::getpid()))).string();
  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"--supports maybe", "--supports must be auto or none"},
           {"--layers 2 --layer-height 1", "not both"},
           {"--layer-height -1", "--layer-height must be a positive length"},
           {"--device tpu", "--device must be cpu or cuda"},
           {"--batch-nodes 0", "--batch-nodes must be positive"}}) {
    const auto bad = run_cli("am dataset --count 2 --out " + out + " " + args);
    EXPECT_EQ(bad.code, 2) << args << ": " << bad.out;
    EXPECT_EQ(lines(bad.out), 1) << args << ": " << bad.out;
    EXPECT_NE(bad.out.find(expect), std::string::npos) << args << ": " << bad.out;
  }
  fs::remove_all(out);
}
