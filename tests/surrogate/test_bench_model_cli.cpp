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

// --baseline: PyTorch's rows for the same N and precision go beside ours on the inference and
// training-step rows, with the speedup; a missing file, a file without such a row, a line that is
// not JSON or a non-default model is refused before anything is timed.
TEST(BenchModelCli, BaselinePutsPyTorchBesideOursWithTheSpeedup) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("flare_bench_baseline_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto base = dir / "torch.jsonl", out = dir / "bench.jsonl";
  {
    std::ofstream f(base);
    f << R"({"N": 64, "mode": "fp32", "inference ms": 1000.0, "inference peak GiB": 0.5, "train step ms": 4000.0, "train step peak GiB": 2.0})" "\n"
      << R"({"N": 64, "mode": "fp32-compile", "inference ms": 500.0, "train step ms": null})" "\n"
      << "\n"
      << R"({"N": 65, "mode": "fp32", "inference ms": 1.0})" "\n"
      << R"({"N": 64, "mode": "bf16", "inference ms": 1.0})" "\n";
  }
  const std::string common = "bench model -n 64 --warmup 0 -r 1 --baseline " + base.string();
  const auto r = run(common + " --jsonl " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"torch fp32 ms", "speedup vs torch fp32", "torch fp32-compile ms",
                        "out of memory"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  std::ifstream in(out);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line)["result"];
    const std::string what = row["what"];
    const double ms = row["mean_ms"];
    if (what == "inference forward") {
      EXPECT_EQ(row["torch fp32 ms"], 1000.0);
      EXPECT_NEAR(row["speedup vs torch fp32"].get<double>(), 1000.0 / ms, 1e-9 * 1000.0 / ms);
      EXPECT_EQ(row["torch fp32 peak_MiB"], 512.0);
      EXPECT_NEAR(row["speedup vs torch fp32-compile"].get<double>(), 500.0 / ms, 1e-9 * 500.0 / ms);
      ++checked;
    } else if (what.rfind("training step", 0) == 0) {
      EXPECT_EQ(row["torch fp32 ms"], 4000.0);
      EXPECT_NEAR(row["speedup vs torch fp32"].get<double>(), 4000.0 / ms, 1e-9 * 4000.0 / ms);
      EXPECT_EQ(row["torch fp32-compile ms"], "out of memory");
      EXPECT_FALSE(row.contains("speedup vs torch fp32-compile"));
      ++checked;
    } else {
      EXPECT_FALSE(row.contains("torch fp32 ms")) << what;
    }
  }
  EXPECT_EQ(checked, 2);

  auto refused = [&](const std::string& args, const std::string& why) {
    const auto e = run(args);
    EXPECT_EQ(e.code, 2) << args << "\n" << e.out;
    EXPECT_NE(e.out.find(why), std::string::npos) << args << "\n" << e.out;
    EXPECT_EQ(e.out.find("inference forward"), std::string::npos) << "timed before refusing";
  };
  refused("bench model -n 64 --baseline " + (dir / "none.jsonl").string(), "cannot read");
  refused("bench model -n 63 --warmup 0 -r 1 --baseline " + base.string(), "no PyTorch row for N = 63");
  refused(common + " --channels 32 --heads 4", "default model only");
  {
    std::ofstream f(dir / "bad.jsonl");
    f << R"({"N": 64, "mode": "fp32"})" "\n" << "not json\n";
  }
  refused("bench model -n 64 --baseline " + (dir / "bad.jsonl").string(), "line 2 is not JSON");
  std::filesystem::remove_all(dir);
}
