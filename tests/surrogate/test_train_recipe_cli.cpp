// `train` options of the training recipe through the executable: --recipe reference sets FLARE.py's
// recipe (flags and --config lines win over it), every option lands in the checkpoint's
// trajectory, and bad values exit 2 with one line naming the option.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "surrogate/checkpoint.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using flare::test::lines;

class TrainRecipeCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_recipe_cli_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    test::build_synthetic_dataset(dir, 8, {0.5, 0.25, 0.25});
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }
  // A tiny model for one epoch: the options under test come in `extra`.
  static test::CommandResult train(const std::string& out, const std::string& extra) {
    return test::run_cli("train --data " + p("data.h5") + " -o " + p(out) +
                         " --epochs 1 -C 8 -L 1 -H 2 -M 4 " + extra);
  }
  static nlohmann::json options(const std::string& out) {
    return surrogate::load_checkpoint(p(out)).training.at("options");
  }
};
fs::path TrainRecipeCli::dir;

}  // namespace

TEST_F(TrainRecipeCli, ReferenceRecipeSetsFlarePyRecipe) {
  const auto r = train("ref.h5", "--recipe reference");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto o = options("ref.h5");
  EXPECT_EQ(o.at("lr"), 1e-3);
  EXPECT_EQ(o.at("beta1"), 0.9);
  EXPECT_EQ(o.at("beta2"), 0.999);
  EXPECT_EQ(o.at("weight_decay"), 0.0);
  EXPECT_EQ(o.at("schedule"), "onecycle");
  EXPECT_EQ(o.at("pct_start"), 0.1);
  EXPECT_EQ(o.at("div_factor"), 1e4);
  EXPECT_EQ(o.at("final_div_factor"), 1e4);
  EXPECT_EQ(o.at("cycle_momentum"), true);
  EXPECT_EQ(o.at("base_momentum"), 0.85);
  EXPECT_EQ(o.at("max_momentum"), 0.95);
  EXPECT_EQ(o.at("clip_norm"), 1.0);
  EXPECT_EQ(o.at("ema"), 0.999);
  EXPECT_EQ(o.at("loss"), "rel_l2");
  EXPECT_EQ(o.at("batch_size"), 1);
  EXPECT_EQ(o.at("trajectory_version"), 2);
  // The .last.h5 carries the average and the optimizer's own weights.
  const auto last = surrogate::load_checkpoint(p("ref.last.h5"));
  EXPECT_EQ(last.adam_params.size(), last.params.size());
  // Without a recipe the defaults are those of before (existing runs resume unchanged).
  ASSERT_EQ(train("plain.h5", "").code, 0);
  const auto d = options("plain.h5");
  EXPECT_EQ(d.at("pct_start"), 0.3);
  EXPECT_EQ(d.at("div_factor"), 25.0);
  EXPECT_EQ(d.at("final_div_factor"), 1e4);
  EXPECT_EQ(d.at("cycle_momentum"), false);
  EXPECT_EQ(d.at("ema"), 0.0);
  EXPECT_EQ(d.at("loss"), "mse");
  EXPECT_TRUE(surrogate::load_checkpoint(p("plain.last.h5")).adam_params.empty());
}

TEST_F(TrainRecipeCli, FlagsAndConfigLinesWinOverTheRecipe) {
  ASSERT_EQ(train("flags.h5", "--recipe reference --ema 0.99 --pct-start 0.2 --loss mse").code, 0);
  auto o = options("flags.h5");
  EXPECT_EQ(o.at("ema"), 0.99);
  EXPECT_EQ(o.at("pct_start"), 0.2);
  EXPECT_EQ(o.at("loss"), "mse");
  EXPECT_EQ(o.at("div_factor"), 1e4);  // the rest from the recipe
  {
    std::ofstream ini(p("run.ini"));
    ini << "recipe = reference\nema = 0.5\nfinal-div-factor = 100\ncycle-momentum = false\n";
  }
  ASSERT_EQ(train("ini.h5", "--config " + p("run.ini") + " --div-factor 50").code, 0);
  o = options("ini.h5");
  EXPECT_EQ(o.at("ema"), 0.5);
  EXPECT_EQ(o.at("final_div_factor"), 100.0);
  EXPECT_EQ(o.at("cycle_momentum"), false);
  EXPECT_EQ(o.at("div_factor"), 50.0);
  EXPECT_EQ(o.at("pct_start"), 0.1);
  EXPECT_EQ(o.at("loss"), "rel_l2");
}

// Stopped and resumed with the same command (the recipe expands to the same trajectory).
TEST_F(TrainRecipeCli, RecipeRunResumes) {
  ASSERT_EQ(train("res.h5", "--recipe reference --stop-after 2").code, 0);
  const auto r = train("res.h5", "--recipe reference --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resuming from"), std::string::npos) << r.out;
  // Another average is another trajectory (the run is complete: the check comes first).
  const auto bad = train("res.h5", "--recipe reference --ema 0.9 --resume");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.out), 1) << bad.out;
  EXPECT_NE(bad.out.find("option 'ema'"), std::string::npos) << bad.out;
}

TEST_F(TrainRecipeCli, BadValuesExit2WithOneLineNamingTheOption) {
  // Each value check is covered in test_trainer (BadRecipeOptions...); here one of each kind, as
  // a process start costs about a second on the CI machine.
  const std::pair<const char*, const char*> cases[] = {
      {"--ema 1.5", "--ema"},
      {"--final-div-factor -1", "--final-div-factor"},
      {"--cycle-momentum true --schedule cosine", "--cycle-momentum"},
      {"--loss huber", "--loss"},
      {"--recipe fancy", "unknown recipe 'fancy'"},
      {"--cycle-momentum maybe", "cycle-momentum"},
  };
  for (const auto& [args, needle] : cases) {
    const auto r = train("bad.h5", args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << ": " << r.out;
    EXPECT_FALSE(fs::exists(p("bad.h5"))) << args;
  }
}
