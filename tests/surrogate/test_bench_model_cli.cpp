// `flare-surrogate bench model` end to end on a tiny model: the table, the JSONL and bad options.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
