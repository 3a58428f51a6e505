// A whole ResidualMLP in one kernel each way (bf16, tensor cores): the tiny-cuda-nn "fully fused
// MLP" for FLARE's k_proj, v_proj, ffn, its input/output projections and (layers = -1) the
// mixer's output Linear (flare.md, ResidualMLP).
//
//   h = act(W1 x + b1)            (+ x when input_residual; needs in == hidden)
//   h = h + act(Wi h + bi)        layers times
//   y = W2 h + b2                 (+ h when output_residual; needs hidden == out)  (+ residual)
//
// A warp carries 16 points through every layer with the activations in registers; only x (and
// the optional residual) is read and y written. Training keeps nothing more: the backward takes
// x again and re-runs the chain before going back through it (FlashAttention's recomputation,
// applied to the MLP), so a training forward costs what an inference does and the model holds no
// per-layer MLP activations between forward and backward. Unfused, every layer is a GEMM pass
// and a GELU+residual pass over [N, hidden], and the backward needs each layer's state and
// pre-activation saved. The weight gradients are N-deep products of each layer's pre-activation
// gradient and input, which the backward kernel leaves in scratch: one grouped launch for the
// whole MLP (weight_grad.cuh).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/weight_grad.cuh"

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
  /// Backward scratch, [N, hidden] for i in 0..layers (overwritten; contents on entry unused): the
  /// state after hidden layer i and its pre-activation gradient, the weight GEMMs' operands.
  bf16* hid[kMaxLinear - 1] = {};
  bf16* da[kMaxLinear - 1] = {};
  /// Backward: weight and bias gradients (fp32, accumulated into; nullptr = not wanted).
  float* dW[kMaxLinear] = {};
  float* db[kMaxLinear] = {};
  WeightGradPath weight_grad = WeightGradPath::kAuto;  ///< how dW is computed (tests pin it)
};

/// Whether the fused forward handles this MLP on these tensors: hidden ∈ {32, 64, 128}, 1 ≤ in ≤
/// hidden (in == hidden with the input residual), 1 ≤ out ≤ hidden, −1 ≤ layers ≤ kMaxLinear − 2,
/// every weight in the device's shared memory at once, and 4-byte alignment of the hidden-wide
/// tensors (x when in == hidden, y and residual when out == hidden), which the model's
/// cudaMalloc'd activations always have. The backward takes the same MLPs.
bool residual_mlp_supported(const CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x,
                            const bf16* y);

/// residual_mlp_supported(ctx, mlp, x, dy), dx aligned likewise, and the scratch hid/da given and
/// 4-byte aligned for every hidden layer.
bool residual_mlp_bwd_supported(const CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x,
                                const bf16* dy, const bf16* dx);

/// y [N, out] = mlp(x [N, in]) (+ residual); fp32 accumulation and an fp32 residual stream, bf16
/// storage. FLARE_CHECK unless residual_mlp_supported().
void residual_mlp_fwd(CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x, bf16* y,
                      std::int64_t N);

/// Backward from the forward's input x [N, in] and dy [N, out]: dx [N, in] += ∂/∂x (dx may be
/// nullptr), dW/db += their gradients; mlp.hid/da are overwritten. The recomputed
/// pre-activations are the forward kernel's own fp32 values (the same instructions on the same
/// bf16 operands). FLARE_CHECK unless residual_mlp_bwd_supported().
void residual_mlp_bwd(CudaContext& ctx, const ResidualMlpArgs& mlp, const bf16* x,
                      const bf16* dy, bf16* dx, std::int64_t N);

}  // namespace flare::cuda
