// One Predictor on the GPU serves many meshes (what `predict a.vtu b.vtu ...` does): after the
// largest mesh has been seen nothing is allocated on the device again, results do not depend on
// what was predicted before, and the stage timings cover upload, model and download. The GPU is
// set up on a thread beside the caller, waited for at the first prediction only.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "kernels/cuda/common.cuh"
#include "mesh/grid.h"
#include "surrogate/predictor.h"
#include "surrogate/trainer.h"
#include "synthetic_boxes.h"

namespace fs = std::filesystem;
using namespace flare;
using namespace flare::surrogate;

TEST(CudaPredictor, ReusesTheContextAndBuffersAcrossMeshes) {
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const fs::path dir = fs::temp_directory_path() / ("flare_test_cuda_predictor_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  TrainOptions o;
  o.data = test::build_synthetic_dataset(dir, 6, {0.5, 0.5, 0});
  o.out = dir / "model.h5";
  o.epochs = 1;
  o.checkpoint_every = 0;
  o.model.channel_dim = 16;
  o.model.num_blocks = 1;
  o.model.num_heads = 2;
  o.model.num_latents = 8;
  train(o, [](const std::string&) {});

  std::mt19937_64 rng(3);
  const mesh::Mesh small = test::synthetic_box(rng);
  const mesh::Mesh big = mesh::hex_grid(40, 30, 20, 0.2);
  for (const char* precision : {"fp32", "bf16"}) {
    { Predictor dropped(o.out, "cuda", precision); }  // its setup thread ends before its members
    Predictor reused(o.out, "cuda", precision);
    const auto y_big = reused.infer(big, "big");
    const double waited = reused.timings().device_wait;  // the setup is waited for once
    EXPECT_GE(waited, 0.0);
    const auto before = cuda::alloc_stats().count;
    const auto y_small = reused.infer(small, "small");
    const auto y_big2 = reused.infer(big, "big");
    EXPECT_EQ(cuda::alloc_stats().count, before) << precision << ": a mesh no larger than one seen "
                                                    "allocated device memory";
    EXPECT_TRUE(y_big2 == y_big) << precision;
    Predictor fresh(o.out, "cuda", precision);
    const auto y_small_fresh = fresh.infer(small, "small");
    EXPECT_LE((y_small - y_small_fresh).cwiseAbs().maxCoeff(), 1e-6 * y_small_fresh.cwiseAbs().maxCoeff())
        << precision;
    const PredictTimings& t = reused.timings();
    EXPECT_GT(t.features, 0.0);
    EXPECT_GT(t.upload, 0.0);
    EXPECT_GT(t.model, 0.0);
    EXPECT_GT(t.download, 0.0);
    EXPECT_EQ(t.device_wait, waited) << precision;
  }
  fs::remove_all(dir);
}

// An ensemble runs its members through the CUDA predictor as through the cpu one: the same mean,
// σ and score within fp32 tolerance (the members are looped over by the host; no ensemble kernel).
TEST(CudaPredictor, EnsembleMatchesTheCpu) {
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const fs::path dir = fs::temp_directory_path() / ("flare_test_cuda_ensemble_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::pair<std::string, Checkpoint>> members;
  const fs::path data = test::build_synthetic_dataset(dir, 6, {0.5, 0.5, 0});
  for (std::uint64_t seed : {1, 2}) {
    TrainOptions o;
    o.data = data;
    o.out = dir / ("m" + std::to_string(seed) + ".h5");
    o.epochs = 1;
    o.seed = seed;
    o.checkpoint_every = 0;
    o.model.channel_dim = 16;
    o.model.num_blocks = 1;
    o.model.num_heads = 2;
    o.model.num_latents = 8;
    train(o, [](const std::string&) {});
    members.emplace_back(o.out.string(), load_checkpoint(o.out));
  }
  const Checkpoint ens = combine_checkpoints(members);
  std::mt19937_64 rng(4);
  const mesh::Mesh box = test::synthetic_box(rng);
  Predictor cpu(ens, "ens", "cpu", "fp32");
  Predictor gpu(ens, "ens", "cuda", "fp32");
  const EnsemblePrediction a = cpu.infer_ensemble(box, "box");
  const EnsemblePrediction b = gpu.infer_ensemble(box, "box");
  const double ymax = a.mean.cwiseAbs().maxCoeff();
  EXPECT_LE((a.mean - b.mean).cwiseAbs().maxCoeff(), 1e-4 * ymax);
  EXPECT_LE((a.sigma - b.sigma).cwiseAbs().maxCoeff(), 1e-4 * ymax);
  EXPECT_GT(a.score, 0.0);
  EXPECT_NEAR(a.score, b.score, 1e-3 * a.score);
  fs::remove_all(dir);
}
