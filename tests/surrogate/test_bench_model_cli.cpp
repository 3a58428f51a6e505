// `flare-surrogate bench model` end to end on a tiny model: the table, the JSONL and bad options.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.h"

namespace {
using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli(args); }
}  // namespace

TEST(BenchModelCli, TinyRunPrintsTableAndJsonl) {
  const auto jsonl = std::filesystem::temp_directory_path() /
                     ("flare_bench_model_" + std::to_string(::getpid()) + ".jsonl");
  const auto r = run("bench model -n 300 --channels 16 --heads 2 --latents 4 --blocks 2 --warmup 0 "
                     "-r 1 --jsonl " + jsonl.string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"inference forward", "training step", "Eigen GEMM", "GFLOP/s"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  std::ifstream in(jsonl);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["config"]["points"], 300);
    EXPECT_GT(j["result"]["GFLOP/s"].get<double>(), 0.0);
    // cpu: the model's buffers after the row's runs (the yardstick GEMM has none)
    if (j["result"]["what"].get<std::string>().rfind("Eigen", 0) != 0)
      EXPECT_GT(j["result"]["peak_MiB"].get<double>(), 0.0) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  std::filesystem::remove(jsonl);
}

TEST(BenchModelCli, BadOptionsAreInputErrors) {
  EXPECT_EQ(run("bench model --device tpu -n 10").code, 2);
  EXPECT_EQ(run("bench model --channels 10 --heads 3 -n 10").code, 2);
  EXPECT_EQ(run("bench model -n 0").code, 2);
}

// --profile: one op table per phase after the timing table, its rows in the JSONL as bench
// "model profile" whose shares add up to the "(all ops)" row.
TEST(BenchModelCli, ProfileTablesAndJsonl) {
  const auto jsonl = std::filesystem::temp_directory_path() /
                     ("flare_bench_profile_" + std::to_string(::getpid()) + ".jsonl");
  const auto r = run("bench model -n 300 --channels 16 --heads 2 --latents 4 --blocks 2 --warmup 0 "
                     "-r 1 --profile --jsonl " + jsonl.string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"bench model profile", "| inference | flare_encode_fwd | 2 |",
                        "| training step | flare_encode_bwd | 2 |", "linear_bwd 16x16", "(all ops)"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  std::ifstream in(jsonl);
  std::string line;
  std::map<std::string, double> share, total_ms, sum_ms;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["bench"] != "model profile") continue;
    const auto& row = j["result"];
    const std::string phase = row["phase"];
    if (row["op"] == "(all ops)") {
      total_ms[phase] = row["ms"];
    } else {
      share[phase] += row["share_%"].get<double>();
      sum_ms[phase] += row["ms"].get<double>();
    }
  }
  for (const char* phase : {"inference", "training step"}) {
    EXPECT_NEAR(share[phase], 100.0, 1e-6) << phase;
    EXPECT_NEAR(sum_ms[phase], total_ms[phase], 1e-9 + 1e-9 * total_ms[phase]) << phase;
    EXPECT_GT(total_ms[phase], 0.0) << phase;
  }
  std::filesystem::remove(jsonl);
}
