// Trainer: deterministic for a seed, exact resume (also with the weight average), stop flag,
// checkpoint slots, the denormalised loss, the resume of version-1 checkpoints, fine-tuning from a
// checkpoint (--init-from), bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "common/error.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/ensemble.h"
#include "surrogate/evaluate.h"
#include "surrogate/normalizer.h"
#include "surrogate/predictor.h"
#include "surrogate/trainer.h"
#include "surrogate/widen_inputs.h"
#include "synthetic_boxes.h"
#include "tests/support/errors.h"

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
  // The fixture's model trained to model.h5 and read back, and an empty folder more/ for the
  // data of other parts to fine-tune it on.
  surrogate::Checkpoint trained_base() {
    surrogate::train(o, [](const std::string&) {});
    fs::create_directories(dir / "more");
    return surrogate::load_checkpoint(dir / "model.h5");
  }
};

void quiet(const std::string&) {}

// The reference recipe's options (app/cmd_train.cpp --recipe reference) with a shorter average
// so that 12 steps move it visibly.
void reference_recipe(surrogate::TrainOptions& o) {
  o.pct_start = 0.1;
  o.div_factor = 1e4;
  o.final_div_factor = 1e4;
  o.cycle_momentum = true;
  o.clip_norm = 1.0;
  o.ema = 0.8;
  o.loss = "rel_l2";
  o.lr = 1e-2;
}

// Mean val rel-L2 of `params` (host) on the dataset, as the trainer validates.
double val_rel_l2(const surrogate::TrainOptions& o, const std::vector<float>& params) {
  const surrogate::Dataset d(o.data);
  const auto norm = surrogate::Normalizer::from_dataset(d);
  surrogate::ModelConfig mc = o.model;
  mc.in_dim = int(d.num_features());
  mc.out_dim = int(d.num_targets());
  const surrogate::ParamLayout layout(mc);
  surrogate::Model<float> model(layout, surrogate::cpu_ops());
  return surrogate::summarize(surrogate::evaluate(model, params.data(), norm, d, d.split("val")))
      .mean_rel_l2;
}

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
    EXPECT_NE(std::string(e.what()).find("another recipe"), std::string::npos) << e.what();
  }
}

// The same parts built again with targets a hair apart (the GPU solver's run-to-run round-off):
// the resume and a new run with --normalizer-from train with the checkpoint's statistics, so every
// checkpoint of the run, and every member of an ensemble, shares one normalizer; parts that differ
// by more than round-off are still another dataset.
TEST_F(Trainer, RebuiltDatasetKeepsTheCheckpointsStatistics) {
  o.stop_after = 5;
  surrogate::train(o, quiet);
  const auto first = surrogate::load_checkpoint(dir / "model.last.h5");
  const auto rebuilt_dir = dir / "rebuilt";
  fs::create_directories(rebuilt_dir);
  o.data = test::build_synthetic_dataset(rebuilt_dir, 8, {0.5, 0.25, 0.25}, 7,
                                         mesh::FeatureRecipe::kVersion, 1.0 + 2e-7);
  const surrogate::Normalizer rebuilt = surrogate::Normalizer::from_dataset(surrogate::Dataset(o.data));
  const double diff = surrogate::statistics_difference(
      rebuilt, surrogate::Normalizer::from_json(first.normalizer, "first"));
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 1e-6);

  std::vector<std::string> logged;
  o.stop_after = 0;
  o.resume = true;
  surrogate::train(o, [&](const std::string& s) { logged.push_back(s); });
  EXPECT_EQ(surrogate::load_checkpoint(o.out).normalizer, first.normalizer);
  EXPECT_EQ(surrogate::load_checkpoint(dir / "model.last.h5").normalizer, first.normalizer);
  bool said = false;
  for (const auto& l : logged) said |= l.find("a rebuild of the same parts") != std::string::npos;
  EXPECT_TRUE(said);

  // A second member, started afresh on the rebuilt data, takes the first one's statistics.
  o.resume = false;
  o.out = dir / "member2.h5";
  o.seed = 6;
  o.normalizer_from = dir / "model.h5";
  surrogate::train(o, quiet);
  EXPECT_EQ(surrogate::load_checkpoint(o.out).normalizer, first.normalizer);
  o.normalizer_from.clear();
  o.out = dir / "member3.h5";
  surrogate::train(o, quiet);
  EXPECT_NE(surrogate::load_checkpoint(o.out).normalizer, first.normalizer);

  // Targets 1% apart are other parts: refused, saying by how much.
  const auto other_dir = dir / "other";
  fs::create_directories(other_dir);
  o.data = test::build_synthetic_dataset(other_dir, 8, {0.5, 0.25, 0.25}, 7,
                                         mesh::FeatureRecipe::kVersion, 1.01);
  o.normalizer_from = dir / "model.h5";
  const std::string e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("training statistics differ"), std::string::npos) << e;
  EXPECT_NE(e.find("--normalizer-from"), std::string::npos) << e;
  // Other geometry: the recipe (part frames, length scale) differs before the statistics do.
  o.data = test::build_synthetic_dataset(other_dir, 8, {0.5, 0.25, 0.25}, 99);
  EXPECT_NE(test::input_error([&] { surrogate::train(o, quiet); }).find("another recipe"),
            std::string::npos);
}

TEST_F(Trainer, MissingDataFileIsAnInputError) {
  fs::remove(o.data);
  EXPECT_THROW(surrogate::train(o, quiet), InputError);
}

// --ema: an interrupted and resumed run is the uninterrupted one, bit for bit, in the optimizer's
// weights, in the average and in every loss; .last.h5 holds the average as params/ and the
// optimizer's weights as optimizer/params.
TEST_F(Trainer, EmaResumesExactly) {
  reference_recipe(o);
  const auto straight = surrogate::train(o, quiet);
  ASSERT_EQ(straight.ema.size(), straight.params.size());
  EXPECT_NE(straight.ema, straight.params);
  const auto last = surrogate::load_checkpoint(dir / "model.last.h5");
  EXPECT_EQ(last.params, straight.ema);
  EXPECT_EQ(last.adam_params, straight.params);
  o.out = dir / "split.h5";
  o.stop_after = 5;
  const auto first = surrogate::train(o, quiet);
  ASSERT_TRUE(first.interrupted);
  o.stop_after = 0;
  o.resume = true;
  const auto second = surrogate::train(o, quiet);
  EXPECT_EQ(second.params, straight.params);
  EXPECT_EQ(second.ema, straight.ema);
  EXPECT_EQ(second.best_val, straight.best_val);
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined, straight.losses);
  // Resuming without the average (or with another decay) is another trajectory.
  o.ema = 0.9;
  EXPECT_THROW(surrogate::train(o, quiet), InputError);
}

// The average is what validation scores and what the best checkpoint holds: validated only at the
// end, the best checkpoint is the final average and best_val is its val error, not the optimizer
// weights' one.
TEST_F(Trainer, EmaIsWhatIsValidatedAndSaved) {
  reference_recipe(o);
  o.val_every = 3;  // one validation, after the last epoch
  const auto r = surrogate::train(o, quiet);
  const auto best = surrogate::load_checkpoint(o.out);
  EXPECT_EQ(best.params, r.ema);
  EXPECT_DOUBLE_EQ(r.best_val, val_rel_l2(o, r.ema));
  EXPECT_GT(std::fabs(val_rel_l2(o, r.params) - r.best_val), 1e-6 * r.best_val);
  // Without averaging the optimizer's weights are saved and scored.
  o.ema = 0;
  o.out = dir / "plain.h5";
  const auto plain = surrogate::train(o, quiet);
  EXPECT_TRUE(plain.ema.empty());
  EXPECT_EQ(surrogate::load_checkpoint(o.out).params, plain.params);
  EXPECT_DOUBLE_EQ(plain.best_val, val_rel_l2(o, plain.params));
}

// --loss rel_l2 is the reported metric: the first step's loss is the initial model's rel-L2 in
// target units on the first training mesh (evaluate()'s arithmetic); rel_l2_normalized is not.
TEST_F(Trainer, RelL2LossIsTheDenormalisedMetric) {
  o.loss = "rel_l2";
  o.epochs = 1;
  const auto r = surrogate::train(o, quiet);
  const surrogate::Dataset d(o.data);
  const auto norm = surrogate::Normalizer::from_dataset(d);
  surrogate::ModelConfig mc = o.model;
  mc.in_dim = int(d.num_features());
  mc.out_dim = int(d.num_targets());
  const surrogate::ParamLayout layout(mc);
  std::vector<float> init(layout.size());
  layout.initialize(init.data(), o.seed);
  surrogate::Model<float> model(layout, surrogate::cpu_ops());
  const auto& train_ids = d.split("train");
  const auto first =
      train_ids[surrogate::epoch_order(std::int64_t(train_ids.size()), o.seed, 0)[0]];
  const double metric = surrogate::evaluate(model, init.data(), norm, d, {first}).front().rel_l2;
  EXPECT_NEAR(r.losses.front(), metric, 1e-5 * metric);
  o.loss = "rel_l2_normalized";
  o.out = dir / "normalized.h5";
  const auto n = surrogate::train(o, quiet);
  EXPECT_GT(std::fabs(n.losses.front() - metric), 0.05 * metric);
}

// A version-1 trajectory gets the options it ran with; its "rel_l2" was on normalised targets.
TEST(UpgradedTrajectory, FillsVersion1OptionsWithTheirOldValues) {
  nlohmann::json v1 = {{"lr", 1e-3}, {"loss", "rel_l2"}, {"clip_norm", 1.0}, {"epochs", 3}};
  const auto up = surrogate::upgraded_trajectory(v1);
  EXPECT_EQ(up.at("trajectory_version"), surrogate::kTrajectoryVersion);
  EXPECT_EQ(up.at("loss"), "rel_l2_normalized");
  EXPECT_EQ(up.at("pct_start"), 0.3);
  EXPECT_EQ(up.at("div_factor"), 25.0);
  EXPECT_EQ(up.at("final_div_factor"), 1e4);
  EXPECT_EQ(up.at("cycle_momentum"), false);
  EXPECT_EQ(up.at("beta1"), 0.9);
  EXPECT_EQ(up.at("beta2"), 0.999);
  EXPECT_EQ(up.at("ema"), 0.0);
  EXPECT_EQ(up.at("clip_norm"), 1.0);  // stored options are kept
  v1["loss"] = "mse";
  EXPECT_EQ(surrogate::upgraded_trajectory(v1).at("loss"), "mse");
  // A current trajectory is left alone: its rel_l2 is the denormalised one.
  surrogate::TrainOptions now;
  now.loss = "rel_l2";
  EXPECT_EQ(surrogate::upgraded_trajectory(now.trajectory_json()), now.trajectory_json());
}

// A .last.h5 written before version 2 with --loss rel_l2 resumes exactly under its new name, and
// the old flag is refused with a line that names it.
TEST_F(Trainer, Version1RelL2CheckpointResumesAsRelL2Normalized) {
  o.loss = "rel_l2_normalized";
  const auto straight = surrogate::train(o, quiet);
  o.out = dir / "old.h5";
  o.stop_after = 5;
  surrogate::train(o, quiet);
  // Rewrite the saved trajectory as version 1 wrote it.
  auto ck = surrogate::load_checkpoint(dir / "old.last.h5");
  auto& opts = ck.training["options"];
  for (const char* key :
       {"trajectory_version", "pct_start", "div_factor", "final_div_factor", "cycle_momentum",
        "base_momentum", "max_momentum", "beta1", "beta2", "ema"})
    opts.erase(key);
  opts["loss"] = "rel_l2";
  surrogate::save_checkpoint(dir / "old.last.h5", ck);
  o.stop_after = 0;
  o.resume = true;
  o.loss = "rel_l2";
  try {
    surrogate::train(o, quiet);
    FAIL() << "a version-1 rel_l2 run resumed under the denormalised loss";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--loss rel_l2_normalized"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  o.loss = "rel_l2_normalized";
  EXPECT_EQ(surrogate::train(o, quiet).params, straight.params);
}

TEST_F(Trainer, BadRecipeOptionsAreInputErrorsBeforeTheDataIsRead) {
  fs::remove(o.data);  // an option error must come first, naming the option
  for (auto bad : std::initializer_list<std::pair<void (*)(surrogate::TrainOptions&), const char*>>{
           {[](surrogate::TrainOptions& t) { t.ema = 1.0; }, "--ema"},
           {[](surrogate::TrainOptions& t) { t.ema = -0.5; }, "--ema"},
           {[](surrogate::TrainOptions& t) { t.pct_start = 1.5; }, "--pct-start"},
           {[](surrogate::TrainOptions& t) { t.div_factor = 0; }, "--div-factor"},
           {[](surrogate::TrainOptions& t) { t.final_div_factor = -2; }, "--final-div-factor"},
           {[](surrogate::TrainOptions& t) { t.max_momentum = 0.8; }, "--max-momentum"},
           {[](surrogate::TrainOptions& t) { t.beta2 = 1.0; }, "--beta2"},
           {[](surrogate::TrainOptions& t) { t.loss = "l1"; }, "--loss"},
           {[](surrogate::TrainOptions& t) {
              t.cycle_momentum = true;
              t.schedule = "constant";
            },
            "--cycle-momentum"}}) {
    surrogate::TrainOptions t = o;
    bad.first(t);
    try {
      surrogate::train(t, quiet);
      FAIL() << "accepted a bad " << bad.second;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.second), std::string::npos) << e.what();
    }
  }
}

// OneCycle's β1 reaches AdamW: cycling between equal bounds of 0.9 is the fixed-β1 run bit for
// bit, and cycling 0.95 → 0.85 → 0.95 is another trajectory.
TEST_F(Trainer, CycledBeta1ReachesTheOptimizer) {
  const auto fixed = surrogate::train(o, quiet);
  o.cycle_momentum = true;
  o.base_momentum = o.max_momentum = 0.9;
  o.out = dir / "flat.h5";
  EXPECT_EQ(surrogate::train(o, quiet).params, fixed.params);
  o.base_momentum = 0.85;
  o.max_momentum = 0.95;
  o.out = dir / "cycled.h5";
  EXPECT_NE(surrogate::train(o, quiet).params, fixed.params);
}

// --augment: each part in a pose drawn from (seed, epoch, sample), so two runs agree bit for bit,
// a resumed run continues exactly, and the poses really change what the model sees.
TEST_F(Trainer, AugmentIsDeterministicAndResumesExactly) {
  const auto plain = surrogate::train(o, quiet);
  o.augment = true;
  o.out = dir / "aug.h5";
  const auto a = surrogate::train(o, quiet);
  fs::remove_all(o.out);
  const auto b = surrogate::train(o, quiet);
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.params, b.params);
  EXPECT_NE(a.losses, plain.losses);
  EXPECT_EQ(surrogate::load_checkpoint(o.out).training.at("options").at("augment"), true);

  o.out = dir / "split.h5";
  o.stop_after = 5;
  const auto first = surrogate::train(o, quiet);
  o.stop_after = 0;
  o.resume = true;
  const auto second = surrogate::train(o, quiet);
  EXPECT_EQ(second.params, a.params);
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined, a.losses);

  // Resuming an augmented run without --augment would silently change the trajectory.
  o.augment = false;
  const std::string e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("'augment'"), std::string::npos) << e;
}

TEST_F(Trainer, AugmentRefusesVersion1DataInOneLine) {
  fs::create_directories(dir / "v1");
  o.data = test::build_synthetic_dataset(dir / "v1", 8, {0.5, 0.25, 0.25}, 7, 1);
  o.augment = true;
  const std::string e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("version 1"), std::string::npos) << e;
  EXPECT_NE(e.find(o.data.string()), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(o.out));
}

// --init-from: other parts, featurised with the model's recipe, train on from the model's weights
// and normaliser with a fresh schedule; its resume is checked against the statistics of the data
// it trains on (not its normaliser, which they differ from by design), as is a checkpoint written
// before those statistics were recorded against its normaliser.
TEST_F(Trainer, InitFromFineTunesTheCheckpointOnOtherParts) {
  const auto trained = trained_base();
  const fs::path base = dir / "model.h5", more_dir = dir / "more", first_data = o.data;
  o.data = test::build_synthetic_dataset(more_dir, 8, {0.5, 0.25, 0.25}, 99,
                                         mesh::FeatureRecipe::kVersion, 1.0,
                                         trained.feature_recipe);
  o.init_from = base;
  o.out = dir / "tuned.h5";
  o.epochs = 1;
  o.lr = 1e-30;  // the first step then leaves the weights where they started
  std::vector<std::string> logged;
  surrogate::train(o, [&](const std::string& s) { logged.push_back(s); });
  auto tuned = surrogate::load_checkpoint(o.out);
  ASSERT_EQ(tuned.params.size(), trained.params.size());
  for (std::size_t i = 0; i < tuned.params.size(); ++i)
    ASSERT_NEAR(tuned.params[i], trained.params[i], 1e-6f * (1 + std::abs(trained.params[i]))) << i;
  EXPECT_EQ(tuned.normalizer, trained.normalizer);
  EXPECT_EQ(tuned.feature_recipe, trained.feature_recipe);
  EXPECT_EQ(tuned.training.at("init_from").at("file"), base.string());
  EXPECT_EQ(tuned.training.at("init_from").at("step"), trained.training.at("step"));
  EXPECT_EQ(tuned.training.at("step"), 4);  // a fresh count: 4 train parts, 1 epoch
  EXPECT_NE(tuned.training.at("data_statistics"), trained.normalizer);
  bool said = false;
  for (const auto& l : logged) said |= l.find("fine-tuning") != std::string::npos;
  EXPECT_TRUE(said);

  // Interrupted and resumed on the same parts: the resume ignores --init-from and keeps both
  // records; without data_statistics (an older checkpoint) the new parts are another dataset.
  o.lr = 1e-3;
  o.epochs = 2;
  o.out = dir / "run.h5";
  o.stop_after = 3;
  surrogate::train(o, quiet);
  o.stop_after = 0;
  o.resume = true;
  const auto resumed = surrogate::train(o, quiet);
  EXPECT_EQ(resumed.steps, 8);
  const auto run = surrogate::load_checkpoint(dir / "run.last.h5");
  EXPECT_EQ(run.training.at("init_from").at("file"), base.string());
  EXPECT_EQ(run.normalizer, trained.normalizer);
  auto old = run;
  old.training.erase("data_statistics");
  surrogate::save_checkpoint(dir / "run.last.h5", old);
  EXPECT_NE(test::input_error([&] { surrogate::train(o, quiet); }).find("statistics differ"),
            std::string::npos);
  // A run from scratch on the first data, its statistics key removed, still resumes.
  o.init_from.clear();
  o.data = first_data;
  o.out = dir / "plain.h5";
  o.resume = false;
  o.stop_after = 3;
  surrogate::train(o, quiet);
  auto plain = surrogate::load_checkpoint(dir / "plain.last.h5");
  plain.training.erase("data_statistics");
  surrogate::save_checkpoint(dir / "plain.last.h5", plain);
  o.resume = true;
  o.stop_after = 0;
  EXPECT_EQ(surrogate::train(o, quiet).steps, 8);
}

// --init-from on data with an appended input array (dataset build --recipe-from M --inputs NEW):
// the input layer widens with zero weights for the new columns, so the model starts as exactly M
// (same predictions), and the new columns' statistics are the data's.
TEST_F(Trainer, InitFromWidensTheInputLayerForAppendedArrays) {
  const auto trained = trained_base();
  const fs::path base = dir / "model.h5";
  o.data = test::build_synthetic_dataset(dir / "more", 8, {0.5, 0.25, 0.25}, 99,
                                         mesh::FeatureRecipe::kVersion, 1.0,
                                         trained.feature_recipe, "g");
  o.init_from = base;
  o.out = dir / "wide.h5";
  o.epochs = 1;
  o.lr = 1e-30;  // the step leaves the weights where they started
  std::vector<std::string> logged;
  surrogate::train(o, [&](const std::string& s) { logged.push_back(s); });
  const auto wide = surrogate::load_checkpoint(o.out);
  ASSERT_EQ(wide.config.in_dim, trained.config.in_dim + 3);
  EXPECT_NE(std::find_if(logged.begin(), logged.end(),
                         [](const std::string& l) { return l.find("widened the input layer") != std::string::npos; }),
            logged.end());
  const auto recipe = mesh::FeatureRecipe::from_json(wide.feature_recipe);
  EXPECT_EQ(recipe.features.back(), "array:g");
  EXPECT_EQ(recipe.length_scale, mesh::FeatureRecipe::from_json(trained.feature_recipe).length_scale);
  const auto n0 = surrogate::Normalizer::from_json(trained.normalizer, "trained");
  const auto n1 = surrogate::Normalizer::from_json(wide.normalizer, "wide");
  ASSERT_EQ(n1.feature_names.size(), n0.feature_names.size() + 3);
  for (std::size_t c = 0; c < n0.feature_mean.size(); ++c) {
    EXPECT_EQ(n1.feature_mean[c], n0.feature_mean[c]) << c;  // the weights were fitted to these
    EXPECT_EQ(n1.feature_std[c], n0.feature_std[c]) << c;
  }
  EXPECT_EQ(n1.feature_names.back(), "g_2");
  EXPECT_GT(n1.feature_std.back(), 0.0);
  EXPECT_NE(n1.feature_std.back(), 1.0);  // fitted on the data, not left at a default

  // Same predictions as the model it started from, whatever the new array holds.
  std::mt19937_64 rng(3);
  mesh::Mesh m = test::synthetic_box(rng);
  std::vector<double> g(std::size_t(3 * m.num_points()));
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(double(i));
  m.point_data.put(mesh::DataArray::from_doubles("g", 3, g));
  const auto before = surrogate::Predictor(trained, "trained", "cpu", "fp32").infer(m, "box");
  const auto after = surrogate::Predictor(wide, "wide", "cpu", "fp32").infer(m, "box");
  ASSERT_EQ(before.rows(), after.rows());
  EXPECT_LT((before - after).cwiseAbs().maxCoeff(), 1e-5f * (1 + before.cwiseAbs().maxCoeff()));

  // Widening is the only change: an array inserted before the model's features, or another
  // length scale, is another recipe.
  auto moved = recipe;
  std::rotate(moved.features.rbegin(), moved.features.rbegin() + 1, moved.features.rend());
  const auto theirs = mesh::FeatureRecipe::from_json(trained.feature_recipe);
  EXPECT_NE(test::input_error([&] { surrogate::appended_inputs(theirs, moved, "m.h5", "d.h5"); })
                .find("only point arrays appended"),
            std::string::npos);
  auto scaled = recipe;
  scaled.length_scale *= 2;
  EXPECT_NE(test::input_error([&] { surrogate::appended_inputs(theirs, scaled, "m.h5", "d.h5"); })
                .find("dataset build --recipe-from m.h5"),
            std::string::npos);
  EXPECT_EQ(surrogate::appended_inputs(theirs, recipe, "m.h5", "d.h5"), 1);
  EXPECT_EQ(surrogate::appended_inputs(theirs, theirs, "m.h5", "d.h5"), 0);
}

TEST_F(Trainer, InitFromRefusesWhatItCannotContinue) {
  const auto trained = trained_base();
  const fs::path base = dir / "model.h5", more_dir = dir / "more";
  // Other parts with a recipe fitted on them: another length scale.
  o.data = test::build_synthetic_dataset(more_dir, 8, {0.5, 0.25, 0.25}, 99);
  o.init_from = base;
  o.out = dir / "tuned.h5";
  std::string e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("dataset build --recipe-from " + base.string()), std::string::npos) << e;

  o.data = test::build_synthetic_dataset(more_dir, 8, {0.5, 0.25, 0.25}, 99,
                                         mesh::FeatureRecipe::kVersion, 1.0,
                                         trained.feature_recipe);
  o.model.channel_dim = 32;
  e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("pass its model options"), std::string::npos) << e;
  o.model.channel_dim = 16;

  o.normalizer_from = base;
  e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("drop --normalizer-from"), std::string::npos) << e;
  o.normalizer_from.clear();

  auto other = trained;
  for (auto& p : other.params) p *= 1.5f;
  const auto pair = surrogate::combine_checkpoints({{"a", trained}, {"b", other}});
  surrogate::save_checkpoint(dir / "pair.h5", pair);
  o.init_from = dir / "pair.h5";
  e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("ensemble of 2 models; pick one with --init-member 1..2"), std::string::npos) << e;
  o.init_member = 3;
  e = test::input_error([&] { surrogate::train(o, quiet); });
  EXPECT_NE(e.find("has 2 members; use 1..2"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(o.out));
  o.init_from.clear();
  EXPECT_NE(test::input_error([&] { surrogate::train(o, quiet); }).find("give --init-from"),
            std::string::npos);

  // Member 2 of the ensemble: its weights, and the record says which.
  o.init_from = dir / "pair.h5";
  o.init_member = 2;
  o.epochs = 1;
  o.lr = 1e-30;
  surrogate::train(o, quiet);
  const auto tuned = surrogate::load_checkpoint(o.out);
  EXPECT_EQ(tuned.training.at("init_from").at("member"), 2);
  ASSERT_EQ(tuned.params.size(), other.params.size());
  for (std::size_t i = 0; i < other.params.size(); ++i)
    ASSERT_NEAR(tuned.params[i], other.params[i], 1e-6f * (1 + std::abs(other.params[i]))) << i;
}
