// Data-parallel `train` under mpirun with 2 CPU ranks: N ranks with --batch-size b follow the
// trajectory of one process with --batch-size N·b (parameters, optimizer state, losses, validation)
// to fp32 rounding, keep identical parameters on every rank, resume on another number of ranks,
// and report a bad option or input once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "mpi_launch.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "synthetic_boxes.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

// Two runs differ only in the order of fp32 sums (each rank packs its own meshes, then an
// all-reduce): measured 3e-7 of the largest value in parameters and AdamW moments after 6 steps.
// Weighting the ranks' gradients by 1/N instead of by their share of the batch moves them by 1e-3.
constexpr double kTol = 1e-5;

class MpiTrainCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_mpi_train_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    // 10 boxes at 0.5/0.2/0.3: 5 train parts, so the last global batch of 2 leaves rank 1 empty.
    test::build_synthetic_dataset(dir, 10, {0.5, 0.2, 0.3});
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  void SetUp() override {
    if (!test::mpirun_available()) GTEST_SKIP() << "no mpirun (" << test::mpirun_path() << ")";
  }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }
  static std::string args(const std::string& out, int batch, const std::string& extra = "") {
    return "train --data " + p("data.h5") + " -o " + p(out + ".h5") + " --metrics " +
           p(out + ".jsonl") + " --batch-size " + std::to_string(batch) +
           " --epochs 2 -C 8 -L 1 -H 2 -M 4 --log-every 1 --seed 3 --checkpoint-every 0 " + extra;
  }
  // Asserts that the runs `a` and `b` (output stems) ended in the same state.
  static void expect_same_state(const std::string& a, const std::string& b) {
    const auto ca = surrogate::load_checkpoint(p(a + ".last.h5"));
    const auto cb = surrogate::load_checkpoint(p(b + ".last.h5"));
    EXPECT_EQ(ca.training.at("step"), cb.training.at("step"));
    EXPECT_EQ(ca.training.at("options"), cb.training.at("options"));
    EXPECT_LT(test::max_rel_diff(ca.params, cb.params), kTol);
    EXPECT_LT(test::max_rel_diff(ca.adam_m, cb.adam_m, 1e-6), kTol);
    EXPECT_LT(test::max_rel_diff(ca.adam_v, cb.adam_v, 1e-9), kTol);
    ASSERT_EQ(ca.adam_params.size(), cb.adam_params.size());
    if (!ca.adam_params.empty())
      EXPECT_LT(test::max_rel_diff(ca.adam_params, cb.adam_params), kTol);
    const auto la = test::metric_losses(p(a + ".jsonl")), lb = test::metric_losses(p(b + ".jsonl"));
    ASSERT_EQ(la.size(), lb.size());
    for (std::size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], kTol * lb[i]) << i;
    if (ca.training.at("best_val").is_number())
      EXPECT_NEAR(ca.training.at("best_val").get<double>(),
                  cb.training.at("best_val").get<double>(), kTol);
  }
};
fs::path MpiTrainCli::dir;

}  // namespace

TEST_F(MpiTrainCli, TwoRanksFollowOneProcessWithTheGlobalBatch) {
  ASSERT_EQ(surrogate::Dataset(p("data.h5")).split("train").size(), 5u);
  const auto dp = test::run_mpi(2, args("dp", 1));
  ASSERT_EQ(dp.code, 0) << dp.out;
  const auto one = test::run_cli(args("one", 2));
  ASSERT_EQ(one.code, 0) << one.out;
  expect_same_state("dp", "one");
  // 3 global batches of 2, 2, 1 parts per epoch.
  EXPECT_EQ(surrogate::load_checkpoint(p("dp.last.h5")).training.at("step"), 6);
  EXPECT_EQ(test::metric_losses(p("dp.jsonl")).size(), 6u);
  EXPECT_NE(dp.out.find("data-parallel over 2 ranks: 1 meshes per rank, global batch 2"),
            std::string::npos)
      << dp.out;
  EXPECT_NE(dp.out.find("parameters identical on all 2 ranks"), std::string::npos) << dp.out;
  // Rank 0 alone logs.
  EXPECT_EQ(test::count_lines_starting(dp.out, "epoch | step"), 1) << dp.out;
  EXPECT_EQ(test::count_lines_starting(dp.out, "trained 6 steps"), 1) << dp.out;
}

// The per-mesh loss weighs ranks by meshes, not points; clipping and the average see the summed
// gradient.
TEST_F(MpiTrainCli, RelL2WithClippingAndAverageMatchesOneProcess) {
  const std::string extra = "--loss rel_l2 --clip-norm 0.5 --ema 0.9 --lr 3e-3";
  const auto dp = test::run_mpi(2, args("dp_rel", 1, extra));
  ASSERT_EQ(dp.code, 0) << dp.out;
  const auto one = test::run_cli(args("one_rel", 2, extra));
  ASSERT_EQ(one.code, 0) << one.out;
  expect_same_state("dp_rel", "one_rel");
}

TEST_F(MpiTrainCli, StopsOnTwoRanksAndResumesOnOne) {
  const auto full = test::run_cli(args("full", 2));
  ASSERT_EQ(full.code, 0) << full.out;
  const auto first = test::run_mpi(2, args("split", 1, "--stop-after 4"));
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("resume with: mpirun -np 2 "), std::string::npos) << first.out;
  EXPECT_EQ(surrogate::load_checkpoint(p("split.last.h5")).training.at("step"), 4);
  // The global batch is what the checkpoint holds: one rank resumes it with --batch-size 2 ...
  const auto rest = test::run_cli(args("split", 2, "--resume"));
  ASSERT_EQ(rest.code, 0) << rest.out;
  expect_same_state("split", "full");
  // ... and one rank with --batch-size 1 is another trajectory, refused with the reason.
  const auto wrong = test::run_cli(args("split", 1, "--resume"));
  EXPECT_EQ(wrong.code, 2) << wrong.out;
  EXPECT_NE(wrong.out.find("option 'batch_size' was 2"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("global batch"), std::string::npos) << wrong.out;
}

TEST_F(MpiTrainCli, OneRankResumesOnTwo) {
  const auto first = test::run_cli(args("grow", 2, "--stop-after 2"));
  ASSERT_EQ(first.code, 0) << first.out;
  const auto rest = test::run_mpi(2, args("grow", 1, "--resume"));
  ASSERT_EQ(rest.code, 0) << rest.out;
  const auto full = test::run_cli(args("grow_full", 2));
  ASSERT_EQ(full.code, 0) << full.out;
  expect_same_state("grow", "grow_full");
}

// Every rank hits the same bad option or missing file: one line, from rank 0, exit code 2.
TEST_F(MpiTrainCli, BadInputIsReportedOnce) {
  const auto device = test::run_mpi(2, args("bad", 1, "--device tpu"));
  EXPECT_EQ(device.code, 2) << device.out;
  EXPECT_EQ(test::count_lines_starting(device.out, "error: "), 1) << device.out;
  EXPECT_NE(device.out.find("error: --device must be cpu or cuda, got 'tpu'"), std::string::npos)
      << device.out;
  const auto missing = test::run_mpi(
      2, "train --data " + p("none.h5") + " -o " + p("bad.h5") + " -C 8 -L 1 -H 2 -M 4");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_EQ(test::count_lines_starting(missing.out, "error: "), 1) << missing.out;
  EXPECT_NE(missing.out.find("none.h5"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(p("bad.last.h5")));
}
