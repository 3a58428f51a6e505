#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/bench_report.h"

using flare::app::BenchReport;
using flare::app::OrderedJson;

TEST(BenchReport, TimingStatistics) {
  auto t = flare::app::samples_to_timing({4, 1, 3, 2});
  EXPECT_EQ(t.reps, 4);
  EXPECT_DOUBLE_EQ(t.mean_ms, 2.5);
  EXPECT_DOUBLE_EQ(t.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(t.median_ms, 2.5);
  EXPECT_NEAR(t.std_ms, 1.2909944, 1e-6);
}

TEST(BenchReport, TimeItRunsWarmupAndReps) {
  int calls = 0;
  auto t = flare::app::time_it([&] { ++calls; }, 2, 5);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(t.reps, 5);
  EXPECT_GE(t.min_ms, 0.0);
}

TEST(BenchReport, MarkdownHasEveryColumnAndRow) {
  BenchReport r("unit", OrderedJson{{"n", 10}});
  r.add(OrderedJson{{"case", "a"}, {"ms", 1.5}});
  r.add(OrderedJson{{"case", "b"}, {"ms", 2.25}, {"GB/s", 100.0}});
  std::ostringstream os;
  r.print_markdown(os);
  std::string s = os.str();
  EXPECT_NE(s.find("| case | ms | GB/s |"), std::string::npos) << s;
  EXPECT_NE(s.find("| a | 1.500 |  |"), std::string::npos) << s;
  EXPECT_NE(s.find("| b | 2.250 | 100.0 |"), std::string::npos) << s;
  EXPECT_NE(s.find(flare::app::git_commit()), std::string::npos);
}

TEST(BenchReport, JsonlAppendsOneLinePerRowWithContext) {
  auto path = std::filesystem::temp_directory_path() / "flare_bench_test.jsonl";
  std::filesystem::remove(path);
  for (int run = 0; run < 2; ++run) {
    BenchReport r("unit", OrderedJson{{"run", run}});
    r.hardware()["gpu"] = "none";
    r.add(OrderedJson{{"ms", 1.0}});
    r.append_jsonl(path);
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["bench"], "unit");
    EXPECT_EQ(j["config"]["run"], lines);
    EXPECT_EQ(j["hardware"]["gpu"], "none");
    EXPECT_TRUE(j["hardware"].contains("cores"));
    EXPECT_EQ(j["commit"], flare::app::git_commit());
    EXPECT_EQ(j["result"]["ms"], 1.0);
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}
