// The top-level command line: usage, unknown commands, exit codes.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "app/command.h"
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

// Every command group, given alone or with --help, lists its commands with their summaries.
TEST(Cli, CommandGroupsListTheirCommands) {
  const std::pair<const char*, std::vector<std::string>> groups[] = {
      {"bench", {"bench features", "bench io", "bench model"}},
      {"am", {"am dataset", "am part", "am simulate", "am voxelize"}},
      {"dataset", {"dataset build"}}};
  for (const auto& [group, members] : groups) {
    for (const std::string flag : {"--help", "-h", ""}) {
      auto r = run(std::string(group) + " " + flag);
      EXPECT_EQ(r.code, flag.empty() ? 2 : 0) << group << " " << flag << ": " << r.out;
      EXPECT_NE(r.out.find("usage: flare-surrogate " + std::string(group) + " <command>"),
                std::string::npos)
          << r.out;
      EXPECT_EQ(r.out.find("unknown command"), std::string::npos) << r.out;
      for (const auto& m : members) EXPECT_NE(r.out.find("  " + m + " "), std::string::npos) << m << "\n" << r.out;
    }
  }
  // The summaries come with the names; commands of other groups do not.
  auto am = run("am --help");
  EXPECT_NE(am.out.find("voxelise a closed surface"), std::string::npos) << am.out;
  EXPECT_EQ(am.out.find("bench model"), std::string::npos) << am.out;
  EXPECT_EQ(am.out.find("  train"), std::string::npos) << am.out;
}

TEST(Cli, UnknownCommandOfAGroupIsOneLine) {
  auto r = run("bench frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown bench command 'frobnicate'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flare-surrogate bench --help"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "expected exactly one line: " << r.out;
  // A whole command still runs, --help included.
  auto h = run("bench io --help");
  EXPECT_EQ(h.code, 0) << h.out;
  EXPECT_NE(h.out.find("usage: flare-surrogate bench io"), std::string::npos) << h.out;
}

TEST(CommandRegistry, GroupsAreTheFirstWordOfTwoWordNames) {
  using flare::app::Registrar;
  static Registrar a("zgroup beta", "second", [](const flare::app::Args&) { return 0; });
  static Registrar b("zgroup alpha", "first", [](const flare::app::Args&) { return 0; });
  static Registrar c("zgroupie", "not a member", [](const flare::app::Args&) { return 0; });
  const auto members = flare::app::group_commands("zgroup");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].name, "zgroup alpha");  // sorted
  EXPECT_EQ(members[1].name, "zgroup beta");
  EXPECT_TRUE(flare::app::group_commands("zgroupie").empty());  // a command, not a group
  EXPECT_TRUE(flare::app::group_commands("").empty());
  std::ostringstream os;
  flare::app::print_group_usage(os, "zgroup");
  EXPECT_NE(os.str().find("  zgroup alpha      first\n"), std::string::npos) << os.str();
  EXPECT_LT(os.str().find("zgroup alpha"), os.str().find("zgroup beta"));
}

// bench features times a given mesh as well as the cube: its node count reaches the table, and a
// missing file is one line naming it.
TEST(Cli, BenchFeaturesTimesAGivenMesh) {
  const std::string part = std::string(FLARE_SOURCE_DIR) + "/examples/lpbf/cantilever.vtu";
  auto r = run("bench features --mesh " + part + " -r 1 -w 0");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| compute_features (total) | 10790 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cantilever.vtu"), std::string::npos) << r.out;
  auto bad = run("bench features --mesh /nonexistent/part.vtu -r 1");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("/nonexistent/part.vtu"), std::string::npos) << bad.out;
}
