// What the fp32 and bf16 GPU model tests share: issue 7's "no cudaMalloc inside a training step"
// check over either op table, and the small synthetic training run of the GPU trainer tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "surrogate/model.h"
#include "surrogate/optimizer.h"
#include "surrogate/trainer.h"
#include "synthetic_boxes.h"

namespace flare::surrogate::test_util {

/// Training steps (forward, MSE on the A prediction, backward, clipping, AdamW on the fp32 master
/// params through opt_ops) over a large batch, a smaller one and the large one again, with and
/// without recomputation: nothing is allocated once a shape, or a larger one, has been seen.
template <typename A>
void expect_no_cuda_malloc_after_first_step(const OpTable<A, float>& ops,
                                            const OpTable<float>& opt_ops, const ModelConfig& c) {
  const ParamLayout layout(c);
  const std::int64_t P = layout.size();
  std::vector<float> p(P);
  layout.initialize(p.data(), 1);
  for (bool recompute : {false, true}) {
    Model<A, float> model(layout, ops);
    model.set_recompute(recompute);
    AdamWConfig ac;
    ac.clip_norm = 1.0;
    AdamW opt(layout, ac, opt_ops);
    Buffer<float> dp(ops.mem, P), dg(ops.mem, P), y;
    Buffer<double> loss(ops.mem, 1);
    dp.upload(p.data(), P);
    Buffer<A> x, pred, dpred;
    auto step = [&](const std::vector<std::int64_t>& off) {
      const std::int64_t N = off.back(), ny = N * c.out_dim;
      const int B = int(off.size()) - 1;
      x.ensure(ops.mem, N * c.in_dim);
      y.ensure(ops.mem, ny);
      pred.ensure(ops.mem, ny);
      dpred.ensure(ops.mem, ny);
      model.forward(dp.data(), x.data(), off.data(), B, pred.data());
      ops.mse_fwd(ops.ctx, pred.data(), y.data(), ny, loss.data());
      dpred.zero(ny);
      ops.mse_bwd(ops.ctx, pred.data(), y.data(), ny, 1.f, dpred.data());
      dg.zero(P);
      model.backward(dp.data(), dpred.data(), dg.data());
      opt.step(dp.data(), dg.data(), 1e-3f);
      ops.mem.synchronize(ops.mem.ctx);
    };
    const std::vector<std::int64_t> big = {0, 3001, 5000}, small = {0, 1234};
    step(big);
    const auto before = cuda::alloc_stats().count;
    step(big);
    step(small);
    step(big);
    EXPECT_EQ(cuda::alloc_stats().count, before) << "recompute " << recompute;
  }
}

/// A synthetic dataset (12 boxes, split 0.5/0.25/0.25) in a fresh directory named after the test,
/// and the training options the GPU trainer tests start from (C 16, L 2, H 2, M 8; 4 epochs of 2
/// meshes a batch, lr 3e-3, clipping at 1, no periodic checkpoints, seed 3).
class SyntheticTrainingRun : public ::testing::Test {
 protected:
  std::filesystem::path dir;
  TrainOptions o;
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("flare_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
           "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    o.data = test::build_synthetic_dataset(dir, 12, {0.5, 0.25, 0.25});
    o.out = dir / "model.h5";
    o.epochs = 4;
    o.batch_size = 2;
    o.checkpoint_every = 0;
    o.seed = 3;
    o.lr = 3e-3;
    o.clip_norm = 1.0;
    o.model.channel_dim = 16;
    o.model.num_blocks = 2;
    o.model.num_heads = 2;
    o.model.num_latents = 8;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

}  // namespace flare::surrogate::test_util
