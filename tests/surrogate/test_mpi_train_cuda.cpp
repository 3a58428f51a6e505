// Data-parallel `train --device cuda` under mpirun (label gpu; skipped without a GPU or mpirun).
// Two ranks on one GPU take the staged all-reduce (NCCL refuses a GPU shared by ranks) and follow
// one process with the global batch; one rank under mpirun on an NCCL build goes through NCCL and
// equals the plain process bit for bit (a sum over one rank is the identity).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "kernels/cuda/common.cuh"
#include "mpi_launch.h"
#include "surrogate/checkpoint.h"
#include "surrogate/comm.h"
#include "synthetic_boxes.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

// As in test_mpi_train_cli.cpp: only the order of fp32 sums differs (measured ~3e-7 on the CPU).
constexpr double kTol = 1e-5;

class MpiTrainCuda : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
    if (!test::mpirun_available()) GTEST_SKIP() << "no mpirun (" << test::mpirun_path() << ")";
    dir = fs::temp_directory_path() /
          ("flare_test_mpi_cuda_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    test::build_synthetic_dataset(dir, 10, {0.5, 0.2, 0.3});
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  std::string args(const std::string& out, int batch) const {
    return "train --device cuda --data " + (dir / "data.h5").string() + " -o " +
           (dir / (out + ".h5")).string() + " --metrics " + (dir / (out + ".jsonl")).string() +
           " --batch-size " + std::to_string(batch) +
           " --epochs 2 -C 16 -L 1 -H 2 -M 4 --log-every 1 --seed 3 --checkpoint-every 0";
  }
};

}  // namespace

TEST_F(MpiTrainCuda, TwoRanksOnOneGpuFollowOneProcess) {
  // One visible GPU for both ranks, also on a host with several.
  const auto dp = test::run_mpi(2, args("dp", 1), "-x CUDA_VISIBLE_DEVICES=0");
  ASSERT_EQ(dp.code, 0) << dp.out;
  const auto one = test::run_cli(args("one", 2));
  ASSERT_EQ(one.code, 0) << one.out;
  test::expect_same_state(dir, "dp", "one", kTol);
  EXPECT_NE(dp.out.find("gradients summed over MPI, device buffers staged through host memory"),
            std::string::npos)
      << dp.out;
  EXPECT_NE(dp.out.find("parameters identical on all 2 ranks"), std::string::npos) << dp.out;
}

TEST_F(MpiTrainCuda, OneRankOverNcclEqualsThePlainProcess) {
  if (!surrogate::nccl_built()) GTEST_SKIP() << "built without NCCL (FLARE_NCCL_ROOT)";
  const auto nccl = test::run_mpi(1, args("nccl", 2));
  ASSERT_EQ(nccl.code, 0) << nccl.out;
  EXPECT_NE(nccl.out.find("gradients summed over NCCL "), std::string::npos) << nccl.out;
  const auto one = test::run_cli(args("one", 2));
  ASSERT_EQ(one.code, 0) << one.out;
  // Not bitwise: on the H200 (session 7) the NCCL run and the plain one differed by 6e-8 relative
  // in the parameters and 7e-9 in the losses (the GPU's own reductions are not run-to-run
  // identical); a broken sum or scaling is off by orders more.
  test::expect_same_state(dir, "nccl", "one", kTol);
}
