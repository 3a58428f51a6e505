// A whole ResidualMLP forward in one kernel (bf16, tensor cores): the tiny-cuda-nn "fully fused
// MLP" for FLARE's k_proj, v_proj, ffn and its input/output projections (flare.md, ResidualMLP).
//
//   h = act(W1 x + b1)            (+ x when input_residual; needs in == hidden)
//   h = h + act(Wi h + bi)        layers times
//   y = W2 h + b2                 (+ h when output_residual; needs hidden == out)
//
// A warp carries 16 points through every layer with the activations in registers; only x is read
// and y written (plus each hidden layer's pre-activation and state when the caller keeps them for
// the backward). Unfused, every layer is a GEMM pass and a GELU+residual pass over [N, hidden].
// The backward fuses the chain from dy to dx likewise; the weight gradients stay N-deep cuBLASLt
// GEMMs (linear_bwd) of each layer's pre-activation gradient and input.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// One ResidualMLP: its weights (bf16 copies, [out_i, in_i] row-major, any alignment), fp32
/// biases, and optional outputs for the backward.
struct ResidualMlpArgs {
  static constexpr int kMaxLinear = 8;  ///< fc1, up to 6 hidden layers, fc2
  int in = 0, hidden = 0, out = 0;
  int layers = 0;  ///< hidden→hidden layers (n of flare.md); -1: one Linear in → out
  bool input_residual = false, output_residual = false;
  const bf16* residual = nullptr;  ///< forward: [N, out] added to y (a block's residual stream)
  const bf16* W[kMaxLinear] = {};   ///< fc1, fcs[0..layers), fc2 (layers = -1: the one Linear)
  const float* b[kMaxLinear] = {};  ///< same order; nullptr = no bias
  /// Training: pre[i], hid[i] [N, hidden] for i in 0..layers (the pre-activation and the state
  /// after each hidden layer, as the unfused path stores them); all nullptr in inference.
  bf16* pre[kMaxLinear - 1] = {};
  bf16* hid[kMaxLinear - 1] = {};
  /// Backward: weight and bias gradients (fp32, accumulated into; nullptr = not wanted).
  float* dW[kMaxLinear] = {};
  float* db[kMaxLinear] = {};
};

/// Whether the fused kernel handles this MLP on these tensors: hidden ∈ {32, 64, 128}, 1 ≤ in ≤
/// hidden (in == hidden with the input residual), 1 ≤ out ≤ hidden, −1 ≤ layers ≤ kMaxLinear − 2,
/// every weight in the device's shared memory at once, and 4-byte alignment of the hidden-wide tensors (x when in == hidden, y when out == hidden,
/// pre/hid, residual), which the model's cudaMalloc'd activations always have.
bool residual_mlp_supported(const CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x,
                            const bf16* y);

/// y [N, out] = mlp(x [N, in]) (+ residual); fp32 accumulation and an fp32 residual stream, bf16
/// storage.
/// FLARE_CHECK unless residual_mlp_supported().
void residual_mlp_fwd(CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x, bf16* y,
                      std::int64_t N);

/// Backward of a training forward (pre/hid as it wrote them): dx [N, in] += ∂/∂x (dx may be
/// nullptr), dW/db += their gradients. The chain runs fused (dh in fp32 registers, the
/// transposed weights in shared memory, the bias sums in the kernel); the weight gradients are
/// N-deep cuBLASLt GEMMs (linear_bwd) of each layer's pre-activation gradient, which the kernel
/// writes over pre (pre is consumed), and its input. FLARE_CHECK unless
/// residual_mlp_supported(ctx, mlp, dx, dy) with pre/hid given (layers ≥ 0).
void residual_mlp_bwd(CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x,
                      const bf16* dy, bf16* dx, std::int64_t N);

}  // namespace flare::cuda
