// Weight gradients of several Linear layers in one launch: dW_j [out_j, in_j] += a_jᵀ · x_j, each
// N deep (a_j [N, out_j]: the layer's output gradient; x_j [N, in_j]: its input; bf16,
// row-major). The backward of a fused ResidualMLP (residual_mlp.cu) needs one such product per
// layer. Through cuBLASLt each is a split-K GEMM plus its reduction kernel, about 7 µs apiece at
// LPBF part sizes however little work they hold: at 15k points they were 264 of a training step's
// 452 launches and 1.9 of its 5.1 ms (ncu, H100). Here one launch covers every layer of an MLP:
// blocks take (layer, 64×64 output tile, slab of points), multiply on tensor cores and add their
// tile into dW with fp32 atomics. The order of those additions varies from run to run, as the
// bias gradients' already does (column sums, atomics per block).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// One product dW += aᵀ·x. Any shapes ≥ 1 and any alignment (dW may be a view at any float offset
/// of a flat parameter buffer).
struct WeightGradTerm {
  const bf16* a = nullptr;  ///< [N, out]
  const bf16* x = nullptr;  ///< [N, in]
  float* dW = nullptr;      ///< [out, in], accumulated into
  int out = 0, in = 0;
};

constexpr int kMaxWeightGradTerms = 8;

/// How a ResidualMLP's weight gradients are computed: one grouped launch (weight_grads) or one
/// cuBLASLt GEMM per layer; kAuto takes default_weight_grad_path().
enum class WeightGradPath { kAuto, kGrouped, kGemm };

/// kGrouped: measured at least as fast as the per-layer GEMMs at every size (bf16 training step
/// of the default model, H100: 15k points 4.81 -> 4.02 ms, 262k 28.2 -> 26.8 ms, 1M 101.4 ms
/// both). FLARE_WEIGHT_GRAD=gemm in the environment selects the GEMMs instead, so that a benchmark
/// can compare both on one binary.
WeightGradPath default_weight_grad_path();

/// All terms (1 ≤ n_terms ≤ kMaxWeightGradTerms) in one launch on ctx's stream.
void weight_grads(CudaContext& ctx, const WeightGradTerm* terms, int n_terms, std::int64_t N);

}  // namespace flare::cuda
