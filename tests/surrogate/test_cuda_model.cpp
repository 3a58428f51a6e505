// The whole FLARE model on the GPU (the CUDA op table, fp32) against the CPU model: forward
// outputs and every parameter gradient on a packed batch of three meshes whose sizes are not tile
// multiples, for a small config, a small config with every option flipped, and the default
// config; inference == training forward; no cudaMalloc once a shape has been seen; the trainer on
// the GPU tracks the CPU trainer's losses and its checkpoints resume on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "kernels/cuda/common.cuh"
#include "cuda_model_steps.h"
#include "model_fixtures.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"
#include "surrogate/optimizer.h"
#include "surrogate/trainer.h"
#include "synthetic_boxes.h"

using namespace flare;
using namespace flare::surrogate;
using namespace flare::surrogate::test_util;
namespace fs = std::filesystem;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device"

ModelConfig gpu_config(int variant) {
  ModelConfig c;  // variant 2: the default model (C 64, L 8, H 8, M 64)
  c.in_dim = 3;
  c.out_dim = 2;
  if (variant == 2) return c;
  c.channel_dim = 16;  // D = 8: the CUDA mixer takes D in {8, 16, 32, 64}
  c.num_heads = 2;
  c.num_latents = 5;   // not a multiple of any tile
  c.num_blocks = 2;
  c.num_layers_k_proj = 1;
  c.num_layers_v_proj = 2;
  c.num_layers_ffn = 1;
  c.num_layers_in_out_proj = 1;
  if (variant == 1) {  // every option flipped
    c.qk_norm = true;
    c.separate_decode_keys = true;
    c.attn_scale = AttnScale::Sqrt;
    c.ffn_mlp_ratio = 2.0;
    c.num_layers_v_proj = -1;
    c.out_proj_norm = false;
  }
  return c;
}

// Max |a − b| within each tensor against that tensor's largest |b|: fp32 with different
// summation orders (cuBLASLt, split reductions, atomics) differs by ~1e-6 relative per op; 1e-3
// leaves room for a dozen layers of accumulation and still catches any wrong term.
void expect_tensors_close(const ParamLayout& layout, const std::vector<float>& gpu,
                          const std::vector<float>& cpu, double rel) {
  for (const auto& t : layout.tensors()) {
    double err = 0, scale = 0;
    std::int64_t worst = 0;
    for (std::int64_t i = 0; i < t.size; ++i) {
      const double e = std::fabs(double(gpu[t.offset + i]) - cpu[t.offset + i]);
      if (e > err) {
        err = e;
        worst = i;
      }
      scale = std::max(scale, double(std::fabs(cpu[t.offset + i])));
    }
    EXPECT_LE(err, rel * scale + 1e-7)
        << t.name << "[" << worst << "]: gpu " << gpu[t.offset + worst] << " cpu "
        << cpu[t.offset + worst] << " (tensor max |cpu| " << scale << ")";
  }
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return err / std::max(scale, 1e-30);
}

struct GpuFixture {
  Backend be = make_backend("cuda");
  const OpTable<float>& ops() const { return be.ops; }
};

}  // namespace

class CudaModel : public ::testing::TestWithParam<int> {};

TEST_P(CudaModel, ForwardAndEveryGradientMatchCpu) {
  SKIP_WITHOUT_GPU();
  GpuFixture g;
  const ModelConfig c = gpu_config(GetParam());
  const ParamLayout layout(c);
  const std::vector<float> p = test_params<float>(layout, 21 + GetParam());
  const std::vector<std::int64_t> offsets = {0, 37, 187, 488};  // three meshes, no tile multiples
  const std::int64_t N = offsets.back(), ny = N * c.out_dim, P = layout.size();
  const auto x = normal_vector<float>(N * c.in_dim, 3);
  const auto t = normal_vector<float>(ny, 4);

  Model<float> cpu(layout, cpu_ops());
  std::vector<float> yc(ny), dyc(ny), gc(P, 0.f);
  cpu.forward(p.data(), x.data(), offsets.data(), 3, yc.data());
  mse_loss(yc.data(), t.data(), ny, dyc.data());
  cpu.backward(p.data(), dyc.data(), gc.data());

  Model<float> gpu(layout, g.ops());
  Buffer<float> dp(g.ops().mem, P), dx(g.ops().mem, N * c.in_dim), dy(g.ops().mem, ny),
      ddy(g.ops().mem, ny), dg(g.ops().mem, P);
  dp.upload(p.data(), P);
  dx.upload(x.data(), N * c.in_dim);
  gpu.forward(dp.data(), dx.data(), offsets.data(), 3, dy.data());
  const auto yg = dy.to_host(ny);
  EXPECT_LE(max_rel_diff(yg, yc), 1e-4);
  // The same upstream gradient as the CPU run, so the comparison isolates the backward.
  ddy.upload(dyc.data(), ny);
  gpu.backward(dp.data(), ddy.data(), dg.data());
  expect_tensors_close(layout, dg.to_host(P), gc, 1e-3);

  // Inference (block by block, activations not kept) gives the training forward's outputs.
  Buffer<float> yi(g.ops().mem, ny);
  gpu.infer(dp.data(), dx.data(), offsets.data(), 3, yi.data());
  EXPECT_LE(max_rel_diff(yi.to_host(ny), yg), 1e-6);
  std::vector<float> yh(ny);
  gpu.infer_host(dp.data(), x.data(), offsets.data(), 3, yh.data());
  EXPECT_LE(max_rel_diff(yh, yg), 1e-6);

  // Per-block recomputation on the GPU: the same gradients as without (same kernels re-run).
  Model<float> gpu_rc(layout, g.ops());
  gpu_rc.set_recompute(true);
  Buffer<float> dy_rc(g.ops().mem, ny), dg_rc(g.ops().mem, P);
  gpu_rc.forward(dp.data(), dx.data(), offsets.data(), 3, dy_rc.data());
  gpu_rc.backward(dp.data(), ddy.data(), dg_rc.data());
  EXPECT_LE(max_rel_diff(dy_rc.to_host(ny), yg), 1e-6);
  expect_tensors_close(layout, dg_rc.to_host(P), dg.to_host(P), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Configs, CudaModel, ::testing::Values(0, 1, 2));

// A training step (forward, loss, backward, clipping, AdamW) allocates nothing once its shape, or a
// larger one, has been seen: buffers only grow.
TEST(CudaModelMemory, NoCudaMallocAfterTheFirstStepOfAShape) {
  SKIP_WITHOUT_GPU();
  GpuFixture g;
  expect_no_cuda_malloc_after_first_step<float>(g.ops(), g.ops(), gpu_config(2));
}

using CudaTrainer = SyntheticTrainingRun;

// 12 AdamW steps: the GPU loss curve stays within 1% of the CPU one (fp32 on both; the orders of
// summation differ) and the model learns (the last loss is below the first).
// Trains `o` on the cpu, then afresh on cuda, and expects every step's loss within 1% and the best
// validation error within 2% of the cpu run's. Returns (cpu, gpu).
std::pair<TrainResult, TrainResult> expect_gpu_tracks_cpu(TrainOptions& o) {
  auto quiet = [](const std::string&) {};
  o.device = "cpu";
  TrainResult cpu = train(o, quiet);
  fs::remove(o.out);
  fs::remove(last_path(o.out));
  o.device = "cuda";
  TrainResult gpu = train(o, quiet);
  EXPECT_EQ(gpu.losses.size(), cpu.losses.size());
  for (std::size_t s = 0; s < std::min(cpu.losses.size(), gpu.losses.size()); ++s)
    EXPECT_NEAR(gpu.losses[s], cpu.losses[s], 1e-2 * cpu.losses[s]) << "step " << s;
  EXPECT_NEAR(gpu.best_val, cpu.best_val, 2e-2 * cpu.best_val);
  return {std::move(cpu), std::move(gpu)};
}

TEST_F(CudaTrainer, GpuLossesTrackCpuAndResumeOnCpu) {
  SKIP_WITHOUT_GPU();
  auto quiet = [](const std::string&) {};
  const auto [cpu, gpu] = expect_gpu_tracks_cpu(o);
  ASSERT_EQ(gpu.losses.size(), cpu.losses.size());
  EXPECT_LT(gpu.losses.back(), gpu.losses.front());

  // Stop on the GPU after 3 steps, resume on the CPU: the same trajectory.
  fs::remove(o.out);
  fs::remove(last_path(o.out));
  o.stop_after = 3;
  const TrainResult first = train(o, quiet);
  ASSERT_TRUE(first.interrupted);
  o.stop_after = 0;
  o.resume = true;
  o.device = "cpu";
  const TrainResult rest = train(o, quiet);
  EXPECT_EQ(rest.steps, std::int64_t(cpu.losses.size()));
  for (std::size_t s = 0; s < rest.losses.size(); ++s)
    EXPECT_NEAR(rest.losses[s], cpu.losses[s + 3], 1e-2 * cpu.losses[s + 3]) << "step " << s + 3;
}

// The reference recipe's path through the GPU-resident step: augmentation poses applied by the
// device column maps, the denormalised rel-L2 loss and the clipping norm left on the device, the
// EMA. The losses, read back in runs, follow the CPU run's step by step.
TEST_F(CudaTrainer, GpuResidentStepTracksCpuWithTheReferenceRecipe) {
  SKIP_WITHOUT_GPU();
  o.loss = "rel_l2";
  o.augment = true;
  o.ema = 0.9;
  o.clip_norm = 0.05;
  o.log_every = 5;
  expect_gpu_tracks_cpu(o);
}
