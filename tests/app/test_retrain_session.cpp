// scripts/retrain_session.sh, the retrain that outlasts one lent GPU host, dry-run on the cpu with
// a dozen tiny parts: two "sessions" on fresh work folders, the second resuming member 1 from what
// the first returned and starting member 2 on its normaliser, then the ensemble of both, scored on
// a held-out part solved on the spot; a run that fine-tunes that ensemble's members (INIT_FROM);
// and a session whose state never arrives, which must not start anyone. FS is a command line with
// spaces, as the GPU host's bundle wrapper is.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/cli.h"

namespace fs = std::filesystem;
using flare::test::read_text;
using flare::test::run_command;

namespace {

class RetrainSession : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("flare_test_retrain_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "state");
  }
  void TearDown() override { fs::remove_all(dir); }

  // `retrain_session.sh VERB` with work folder W, state folder STATE, results in OUT.
  flare::test::CommandResult session(const std::string& verb, const std::string& w,
                                     const std::string& members, const std::string& extra = "") {
    const std::string env = "FS='env FLARE_NO_PROGRESS=1 " + std::string(FLARE_BINARY) + "' W=" +
                            (dir / w).string() + " OUT=" + (dir / w / "out").string() +
                            " STATE=" + (dir / "state").string() + " MEMBERS='" + members +
                            "' COUNT=12 NODES=1500..2500 HOLDOUT_COUNT=3 EXAMPLES= HELDOUT_PARTS= DEVICE=cpu "
                            "EPOCHS=2 OMP_NUM_THREADS=2 TRAIN_ARGS='-L 1 -C 16 -H 2 -M 8' " + extra;
    return run_command("cd " + std::string(FLARE_SOURCE_DIR) + " && " + env +
                       " bash scripts/retrain_session.sh " + verb);
  }
  fs::path dir;
};

}  // namespace

TEST_F(RetrainSession, ResumesAcrossSessionsAndEnsemblesTheMembers) {
  auto r = session("start", "s1", "1");
  ASSERT_EQ(r.code, 0) << r.out << read_text(dir / "s1" / "stages.txt");
  r = session("stop", "s1", "1");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_TRUE(fs::exists(dir / "s1" / "out" / "state_m1.tar")) << r.out;
  // What came back is the next session's state.
  r = run_command("tar -C " + (dir / "state").string() + " -xf " + (dir / "s1" / "out" / "state_m1.tar").string());
  ASSERT_EQ(r.code, 0) << r.out;

  r = session("start", "s2", "1 2");
  ASSERT_EQ(r.code, 0) << r.out << read_text(dir / "s2" / "stages.txt");
  EXPECT_NE(read_text(dir / "s2" / "train_m1.log").find("resuming from"), std::string::npos)
      << read_text(dir / "s2" / "train_m1.log");
  EXPECT_EQ(read_text(dir / "s2" / "train_m2.log").find("resuming from"), std::string::npos);
  // A held-out part folder of one box (STL and voxel size), solved and scored by `stop`.
  fs::create_directories(dir / "hp");
  {
    std::ofstream stl(dir / "hp" / "box.stl");
    const double x = 4, y = 3, z = 2;
    const double v[8][3] = {{0, 0, 0}, {x, 0, 0}, {x, y, 0}, {0, y, 0}, {0, 0, z}, {x, 0, z}, {x, y, z}, {0, y, z}};
    const int f[12][3] = {{0, 2, 1}, {0, 3, 2}, {4, 5, 6}, {4, 6, 7}, {0, 1, 5}, {0, 5, 4},
                          {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}};
    stl << "solid box\n";
    for (const auto& t : f) {
      stl << "facet normal 0 0 0\nouter loop\n";
      for (int k : t) stl << "vertex " << v[k][0] << " " << v[k][1] << " " << v[k][2] << "\n";
      stl << "endloop\nendfacet\n";
    }
    stl << "endsolid box\n";
    std::ofstream(dir / "hp" / "parts.txt") << "box 0.5\n";
  }
  r = session("stop", "s2", "1 2", "ENSEMBLE=1 HELDOUT_PARTS=" + (dir / "hp").string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"state_m1.tar", "state_m2.tar", "ensemble.h5", "logs.tar.gz"})
    EXPECT_TRUE(fs::exists(dir / "s2" / "out" / f)) << f << "\n" << r.out << read_text(dir / "s2" / "ensemble.log");
  EXPECT_NE(read_text(dir / "s2" / "eval_ensemble_test.txt").find("test split"), std::string::npos)
      << read_text(dir / "s2" / "eval_ensemble_test.txt");
  EXPECT_NE(read_text(dir / "s2" / "eval_ensemble_heldout_parts.txt").find("1 meshes"), std::string::npos)
      << read_text(dir / "s2" / "eval_ensemble_heldout_parts.txt") << read_text(dir / "s2" / "hp.log");
  // And as `predict --coarse-solve` answers them.
  EXPECT_NE(read_text(dir / "s2" / "eval_ensemble_heldout_parts_coarse.txt").find("1 meshes"), std::string::npos)
      << read_text(dir / "s2" / "eval_ensemble_heldout_parts_coarse.txt");
  // Member 2 shares member 1's normaliser, or the ensemble would have been refused.
  EXPECT_NE(read_text(dir / "s2" / "ensemble.log").find("wrote"), std::string::npos)
      << read_text(dir / "s2" / "ensemble.log");

  // Two runs that continue that ensemble (INIT_FROM, no state): in the first each member
  // fine-tunes from its namesake on data featurised with the ensemble's recipe, in the second
  // from its own best checkpoint of the first; they form an ensemble again. With COARSE_INPUT the
  // parts carry their coarse solve and the members read it: the first run widens their input
  // layer; the baseline is scored on the test split's meshes.
  const fs::path init = dir / "s2" / "out" / "ensemble.h5";
  fs::create_directories(dir / "empty");
  const std::string cont = "INIT_FROM=" + init.string() + " STATE=" + (dir / "empty").string() +
                           " EPOCHS='1 1' SEED=7 COARSE_INPUT=1";
  r = session("start", "s4", "1 2", cont);
  ASSERT_EQ(r.code, 0) << r.out << read_text(dir / "s4" / "stages.txt");
  EXPECT_NE(read_text(dir / "s4" / "build.log").find("wrote"), std::string::npos)
      << read_text(dir / "s4" / "build.log");
  EXPECT_NE(read_text(dir / "s4" / "parts" / "manifest.json").find("\"seed\": 7"), std::string::npos);
  EXPECT_NE(read_text(dir / "s4" / "stages.txt").find("run 2 (1 epochs)"), std::string::npos)
      << read_text(dir / "s4" / "stages.txt");
  for (const char* m : {"m1", "m2"}) {
    const std::string log = read_text(dir / "s4" / (std::string("train_") + m + ".log"));
    EXPECT_NE(log.find("fine-tuning " + init.string()), std::string::npos) << log;
    EXPECT_NE(log.find("fine-tuning " + (dir / "s4" / "run1" / m).string() + ".h5"),
              std::string::npos) << log;
    EXPECT_NE(log.find("widened the input layer of " + init.string()), std::string::npos) << log;
    EXPECT_TRUE(fs::exists(dir / "s4" / (std::string(m) + ".h5")));
  }
  EXPECT_NE(read_text(dir / "s4" / "parts" / "manifest.json").find("\"coarse_field\": true"), std::string::npos);
  r = session("stop", "s4", "1 2", cont + " ENSEMBLE=1 HELDOUT_PARTS=" + (dir / "hp").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir / "s4" / "out" / "ensemble.h5")) << read_text(dir / "s4" / "ensemble.log");
  // The held-out part has no coarse field: eval makes it for the model that reads it.
  EXPECT_NE(read_text(dir / "s4" / "eval_ensemble_heldout_parts.txt").find("1 meshes"), std::string::npos)
      << read_text(dir / "s4" / "eval_ensemble_heldout_parts.txt");
  EXPECT_FALSE(fs::exists(dir / "s4" / "eval_ensemble_heldout_parts_coarse.txt"));
  // The model this run continues is its baseline, on the same test split: as meshes, since the
  // data's features are wider than its recipe; the ensemble on the dataset.
  EXPECT_NE(read_text(dir / "s4" / "eval_shipped_test.txt").find(" meshes, "), std::string::npos)
      << read_text(dir / "s4" / "eval_shipped_test.txt");
  EXPECT_NE(read_text(dir / "s4" / "eval_ensemble_test.txt").find("test split"), std::string::npos)
      << read_text(dir / "s4" / "eval_ensemble_test.txt");

  // A run that continues a model which reads the coarse solve shares the dataset's recipe: its
  // baseline is scored on the dataset (session 21's stop solved all 400 test meshes again).
  const fs::path coarse_init = dir / "s4" / "out" / "ensemble.h5";
  r = session("stop", "s4", "1 2", "INIT_FROM=" + coarse_init.string() + " STATE=" +
                                       (dir / "empty").string() + " COARSE_INPUT=1 EXAMPLES= HELDOUT_PARTS=");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read_text(dir / "s4" / "eval_shipped_test.txt").find("test split"), std::string::npos)
      << read_text(dir / "s4" / "eval_shipped_test.txt");
}

TEST_F(RetrainSession, WithoutItsStateNoMemberStarts) {
  const auto r = session("start", "s3", "1", "STATE_WAIT=1");
  EXPECT_NE(r.code, 0);
  const std::string stages = read_text(dir / "s3" / "stages.txt");
  EXPECT_NE(stages.find("not training"), std::string::npos) << stages;
  EXPECT_EQ(stages.find("started m1"), std::string::npos) << stages;
  EXPECT_FALSE(fs::exists(dir / "s3" / "m1.last.h5"));
}

// The device calls after `start` (wait, stop) take its settings unless given again: session 14's
// `stop`, called without them, scored neither the MLP member nor the baseline on the test split.
// Run outside the checkout: `start` finds no bundle there and trains nothing.
TEST_F(RetrainSession, LaterCallsTakeTheSettingsOfStart) {
  auto call = [&](const std::string& env, const std::string& verb) {
    return run_command("cd " + dir.string() + " && W=" + (dir / "w").string() + " " + env +
                       " bash " + FLARE_SOURCE_DIR + "/scripts/device/retrain_call.sh " + verb);
  };
  const auto start = call("MEMBERS='1 mlp' INIT_FROM='models/a b.h5' SEED=14", "start");
  EXPECT_NE(start.code, 0) << "no bundle here, so nothing may train: " << start.out;
  auto r = call("", "settings");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MEMBERS=1 mlp\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("INIT_FROM=models/a b.h5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SEED=14\n"), std::string::npos) << r.out;
  // A setting given again wins.
  r = call("SEED=3", "settings");
  EXPECT_NE(r.out.find("SEED=3\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SEED=14"), std::string::npos) << r.out;
}

// A `wait` while the parts are still being made (no stages.txt yet) waits its WAIT quietly:
// session 19's first `wait` printed "integer expression expected" every 5 s for 9 minutes.
TEST_F(RetrainSession, WaitBeforeAnyStageIsQuiet) {
  const auto r = run_command("cd " + dir.string() + " && W=" + (dir / "w0").string() +
                             " WAIT=6 EPOCHS=3 MEMBERS=1 bash " + FLARE_SOURCE_DIR +
                             "/scripts/device/retrain_call.sh wait");
  EXPECT_EQ(r.out.find("integer expression"), std::string::npos) << r.out;
}
