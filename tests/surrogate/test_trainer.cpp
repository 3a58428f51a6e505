// Trainer: deterministic for a seed, exact resume, stop flag, checkpoint slots, bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "common/error.h"
#include "surrogate/checkpoint.h"
#include "surrogate/trainer.h"
#include "synthetic_boxes.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

class Trainer : public ::testing::Test {
 protected:
  fs::path dir;
  surrogate::TrainOptions o;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("flare_test_trainer_" +
           std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    o.data = test::build_synthetic_dataset(dir, 8, {0.5, 0.25, 0.25});
    o.out = dir / "model.h5";
    o.epochs = 3;
    o.batch_size = 1;
    o.checkpoint_every = 0;
    o.log_every = 2;
    o.seed = 5;
    o.model.channel_dim = 16;
    o.model.num_blocks = 2;
    o.model.num_heads = 2;
    o.model.num_latents = 8;
  }
  void TearDown() override { fs::remove_all(dir); }
};

void quiet(const std::string&) {}

}  // namespace

TEST(EpochOrder, IsAPermutationThatDependsOnSeedAndEpoch) {
  const auto a = surrogate::epoch_order(50, 1, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(a, surrogate::epoch_order(50, 1, 0));
  EXPECT_NE(a, surrogate::epoch_order(50, 1, 1));
  EXPECT_NE(a, surrogate::epoch_order(50, 2, 0));
}

TEST_F(Trainer, SameSeedGivesIdenticalLosses) {
  const auto a = surrogate::train(o, quiet);
  fs::remove_all(o.out);
  const auto b = surrogate::train(o, quiet);
  ASSERT_EQ(a.losses.size(), 12u);  // 4 train meshes × 3 epochs
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.params, b.params);
  o.seed = 6;
  const auto c = surrogate::train(o, quiet);
  EXPECT_NE(a.losses, c.losses);
}

TEST_F(Trainer, RecomputeChangesNothingButMemory) {
  const auto a = surrogate::train(o, quiet);
  o.recompute = true;
  o.out = dir / "recompute.h5";
  const auto b = surrogate::train(o, quiet);
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.params, b.params);
}

TEST_F(Trainer, ResumeContinuesExactly) {
  const auto straight = surrogate::train(o, quiet);
  // 5 steps: stops inside epoch 2 (4 steps per epoch), after the epoch-1 validation.
  o.out = dir / "split.h5";
  o.stop_after = 5;
  const auto first = surrogate::train(o, quiet);
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.steps, 5);
  ASSERT_TRUE(fs::exists(dir / "split.last.h5"));
  o.stop_after = 0;
  o.resume = true;
  const auto second = surrogate::train(o, quiet);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.steps, 12);
  EXPECT_EQ(second.params, straight.params);  // bitwise: same thread count, same order
  EXPECT_EQ(second.best_val, straight.best_val);
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined, straight.losses);
}

TEST_F(Trainer, StopFlagSavesLastAfterTheCurrentStep) {
  std::atomic<bool> stop{true};
  const auto r = surrogate::train(o, quiet, &stop);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps, 1);
  const auto c = surrogate::load_checkpoint(dir / "model.last.h5");
  EXPECT_TRUE(c.has_optimizer);
  EXPECT_EQ(c.step, 1);
  EXPECT_EQ(c.training.at("step"), 1);
  EXPECT_EQ(c.training.at("position"), 1);
  EXPECT_EQ(c.params, r.params);
}

TEST_F(Trainer, CheckpointsCarryRecipeNormalizerAndBest) {
  o.metrics = dir / "m.jsonl";
  const auto r = surrogate::train(o, quiet);
  const auto best = surrogate::load_checkpoint(o.out);
  EXPECT_FALSE(best.has_optimizer);
  EXPECT_EQ(best.normalizer.at("target_names"), nlohmann::json({"f"}));
  EXPECT_TRUE(best.feature_recipe.contains("features"));
  EXPECT_DOUBLE_EQ(best.training.at("best_val").get<double>(), r.best_val);
  EXPECT_EQ(best.training.at("options").at("model").at("channel_dim"), 16);
  std::ifstream f(o.metrics);
  int train_lines = 0, val_lines = 0;
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    (j.at("kind") == "val" ? val_lines : train_lines)++;
  }
  EXPECT_EQ(val_lines, 3);
  EXPECT_GE(train_lines, 6);
}

TEST_F(Trainer, ResumeWithOtherOptionsIsRefused) {
  o.stop_after = 2;
  surrogate::train(o, quiet);
  o.resume = true;
  o.lr = 5e-3;
  try {
    surrogate::train(o, quiet);
    FAIL() << "resume with another lr was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'lr'"), std::string::npos) << e.what();
  }
}

// A moved dataset resumes (it is identified by its training statistics); another one is refused.
TEST_F(Trainer, ResumeFollowsTheDatasetNotItsPath) {
  const auto straight = surrogate::train(o, quiet);
  o.out = dir / "split.h5";
  o.stop_after = 5;
  surrogate::train(o, quiet);
  const fs::path moved = dir / "moved" / "data.h5";
  fs::create_directories(moved.parent_path());
  fs::rename(o.data, moved);
  o.data = moved;
  o.stop_after = 0;
  o.resume = true;
  EXPECT_EQ(surrogate::train(o, quiet).params, straight.params);

  fs::create_directories(dir / "other");
  o.data = test::build_synthetic_dataset(dir / "other", 8, {0.5, 0.25, 0.25}, 99);
  try {
    surrogate::train(o, quiet);
    FAIL() << "resume on another dataset was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("training statistics differ"), std::string::npos) << e.what();
  }
}

TEST_F(Trainer, MissingDataFileIsAnInputError) {
  fs::remove(o.data);
  EXPECT_THROW(surrogate::train(o, quiet), InputError);
}
