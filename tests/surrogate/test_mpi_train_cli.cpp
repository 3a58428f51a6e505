// Data-parallel `train` under mpirun with 2 CPU ranks: N ranks with --batch-size b follow the
// trajectory of one process with --batch-size N·b (parameters, optimizer state, losses, validation)
// to fp32 rounding, keep identical parameters on every rank, resume on another number of ranks,
// and report a bad option or input once. With --shard-points the ranks split each mesh's points
// and follow one process with the same --batch-size.
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
// Point-sharded runs (the encode's softmax and every sum over points split in two and merged):
// measured 3e-8 in parameters, 2e-7 in AdamW moments after 10 steps.
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
  static std::string args(const std::string& out, int batch, const std::string& extra = "",
                          int epochs = 2, int log_every = 1) {
    return "train --data " + p("data.h5") + " -o " + p(out + ".h5") + " --metrics " +
           p(out + ".jsonl") + " --batch-size " + std::to_string(batch) + " --epochs " +
           std::to_string(epochs) + " -C 8 -L 1 -H 2 -M 4 --log-every " +
           std::to_string(log_every) + " --seed 3 --checkpoint-every 0 " + extra;
  }
  static void expect_same_state(const std::string& a, const std::string& b) {
    test::expect_same_state(dir, a, b, kTol);
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

// mpirun forwards SIGUSR1 to every rank: they agree to stop after the same step (else one would
// wait for the other forever: a watchdog fails the test then), rank 0 saves the state, and it
// resumes.
TEST_F(MpiTrainCli, SigusrToMpirunStopsAllRanksAfterTheSameStep) {
  const char* bin = std::getenv("FLARE_TEST_BINARY");
  std::string mpirun = test::mpirun_path() + " -np 2 --oversubscribe -x OMP_NUM_THREADS=1";
  if (::geteuid() == 0) mpirun += " --allow-run-as-root";
  const std::string log = p("usr1.log");
  // 2000 epochs of 3 steps would take seconds: the signal comes once the first line is out. A
  // watchdog ends mpirun should the ranks not agree to stop.
  const std::string script =
      mpirun + " " + (bin ? bin : FLARE_BINARY) + " " + args("usr1", 1, "", 2000, 1000) + " > " +
      log +
      " 2>&1 & pid=$!; (sleep 120; kill $pid) >/dev/null 2>&1 & dog=$!; i=0; until grep -q \"epoch "
      "| step\" " +
      log + " || ! kill -0 $pid || [ $i -gt 300 ]; do sleep 0.1; i=$((i+1)); done; " +
      "kill -USR1 $pid; wait $pid; echo rc=$?; pkill -P $dog; kill $dog; cat " + log;
  const auto r = test::run_command("sh -c " + test::shell_quoted(script));
  EXPECT_NE(r.out.find("rc=130"), std::string::npos) << r.out;
  EXPECT_EQ(test::count_lines_starting(r.out, "stopped at epoch"), 1) << r.out;
  EXPECT_NE(r.out.find("parameters identical on all 2 ranks"), std::string::npos) << r.out;
  const std::int64_t step = surrogate::load_checkpoint(p("usr1.last.h5")).training.at("step");
  EXPECT_GT(step, 0);
  EXPECT_LT(step, 6000);
  const auto more = test::run_cli(args("usr1", 2, "--resume --stop-after 3", 2000, 1000));
  ASSERT_EQ(more.code, 0) << more.out;
  EXPECT_EQ(surrogate::load_checkpoint(p("usr1.last.h5")).training.at("step"), step + 3);
}

// --shard-points: each rank holds half the points of every mesh, so 2 ranks with --batch-size 1
// follow one process with --batch-size 1 (and keep identical parameters).
TEST_F(MpiTrainCli, ShardedPointsFollowOneProcessWithTheSameBatch) {
  const auto sp = test::run_mpi(2, args("sp", 1, "--shard-points"));
  ASSERT_EQ(sp.code, 0) << sp.out;
  const auto one = test::run_cli(args("sp_one", 1));
  ASSERT_EQ(one.code, 0) << one.out;
  expect_same_state("sp", "sp_one");
  // 5 steps of one part per epoch.
  EXPECT_EQ(surrogate::load_checkpoint(p("sp.last.h5")).training.at("step"), 10);
  EXPECT_NE(sp.out.find("point-sharded over 2 ranks"), std::string::npos) << sp.out;
  EXPECT_NE(sp.out.find("parameters identical on all 2 ranks"), std::string::npos) << sp.out;
  EXPECT_EQ(test::count_lines_starting(sp.out, "trained 10 steps"), 1) << sp.out;
}

// A sharded run stops, resumes sharded with recomputed blocks (a collective inside the backward),
// and ends where one process ends; a sharded run with a per-mesh loss is refused once.
TEST_F(MpiTrainCli, ShardedPointsStopAndResume) {
  const auto first = test::run_mpi(2, args("sp_split", 1, "--shard-points --stop-after 3"));
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("resume with: mpirun -np 2 "), std::string::npos) << first.out;
  EXPECT_EQ(surrogate::load_checkpoint(p("sp_split.last.h5")).training.at("step"), 3);
  const auto rest = test::run_mpi(2, args("sp_split", 1, "--shard-points --recompute --resume"));
  ASSERT_EQ(rest.code, 0) << rest.out;
  const auto full = test::run_cli(args("sp_full", 1));
  ASSERT_EQ(full.code, 0) << full.out;
  expect_same_state("sp_split", "sp_full");
  const auto rel = test::run_mpi(2, args("sp_bad", 1, "--shard-points --loss rel_l2"));
  EXPECT_EQ(rel.code, 2) << rel.out;
  EXPECT_EQ(test::count_lines_starting(rel.out, "error: --shard-points trains with --loss mse"), 1)
      << rel.out;
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

// Only rank 0 speaks on stdout under mpirun, for every command (app/main.cpp).
TEST_F(MpiTrainCli, HelpIsPrintedOnce) {
  const auto r = test::run_mpi(2, "train --help");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(test::count_lines_starting(r.out, "usage: flare-surrogate train"), 1) << r.out;
}
