// The top-level command line: usage, unknown commands, exit codes.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/support/cli.h"

namespace {
using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli(args); }
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
