// `flare-surrogate bench mixer` argument handling; runs without a GPU (bad input is rejected before
// the device is touched), so it is not labelled gpu.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/support/cli.h"

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli(args); }

TEST(BenchMixerCli, HelpListsExamples) {
  const auto r = run("bench mixer --help");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("examples:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--baseline"), std::string::npos) << r.out;
}

TEST(BenchMixerCli, BadValuesAreInputErrors) {
  auto r = run("bench mixer --points 10,abc");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--points"), std::string::npos) << r.out;
  r = run("bench mixer --precision fp16");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("fp16"), std::string::npos) << r.out;
  r = run("bench mixer --kernels v2,v3");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("v3"), std::string::npos) << r.out;
  r = run("bench mixer --baseline /nonexistent/torch.jsonl");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/torch.jsonl"), std::string::npos) << r.out;
}

}  // namespace
