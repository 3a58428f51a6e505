// The top-level command line: usage, unknown commands, exit codes.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

namespace {
struct Result {
  int code;
  std::string out;
};
Result run(const std::string& args) {
  std::string cmd = std::string(FLARE_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}
}  // namespace

TEST(Cli, NoArgumentsPrintsUsageAndFails) {
  auto r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("usage: flare-surrogate"), std::string::npos) << r.out;
}

TEST(Cli, HelpSucceeds) {
  auto r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("commands:"), std::string::npos) << r.out;
}

TEST(Cli, UnknownCommandIsOneLineAndExitCode2) {
  auto r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown command 'frobnicate'"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "expected exactly one line: " << r.out;
}

TEST(Cli, VersionPrints) {
  auto r = run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("flare-surrogate "), std::string::npos);
}
