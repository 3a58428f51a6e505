// `flare-surrogate bench mixer` argument handling; runs without a GPU (bad input is rejected before
// the device is touched), so it is not labelled gpu.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Result {
  int code;
  std::string output;
};

Result run(const std::string& args) {
  std::string cmd = std::string(FLARE_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

TEST(BenchMixerCli, HelpListsExamples) {
  const auto r = run("bench mixer --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("examples:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--baseline"), std::string::npos) << r.output;
}

TEST(BenchMixerCli, BadValuesAreInputErrors) {
  auto r = run("bench mixer --points 10,abc");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--points"), std::string::npos) << r.output;
  r = run("bench mixer --precision fp16");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("fp16"), std::string::npos) << r.output;
  r = run("bench mixer --baseline /nonexistent/torch.jsonl");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/torch.jsonl"), std::string::npos) << r.output;
}

}  // namespace
