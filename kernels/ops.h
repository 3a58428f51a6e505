// The contract of every numerical op of the model: one list, implemented by each tier.
//
//   flare::kernels::ref  naive loops with double accumulation: the test oracle and the documentation
//   flare::kernels::cpu  Eigen + OpenMP: the production CPU path
//   flare::kernels::cuda (kernels/cuda/*.cuh) device pointers, a stream, fp32 and bf16 variants
//
// Dimension letters (fixed everywhere): B meshes per batch, N points, M latents, H heads, D head
// dim, C = H·D channels, L blocks, F input features, T output fields.
//
// Conventions, for all tiers:
// - Tensors are row-major fp32, one row per point: x is [N, C] means x[n*C + c].
// - Sizes that can exceed 2^31 elements (N·C at N = 10M) are int64.
// - Backward ops ACCUMULATE (+=) into every gradient output (dx, dW, db, dQ, ...): callers zero
//   gradient buffers once per step, and residual branches add up without temporaries (llm.c).
//   Any gradient output may be nullptr when it is not needed.
// - Packed batches: meshes of different sizes are concatenated along the point axis; mesh b owns
//   rows offsets[b] .. offsets[b+1] (offsets has B+1 entries, offsets[0] = 0). No padding.
// - Linear weights are [out, in] (torch.nn.Linear), so checkpoints map 1:1 to PyTorch state.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace flare::kernels {

/// AdamW hyper-parameters for one step (torch.optim.AdamW semantics: decoupled weight decay
/// p -= lr·wd·p, bias-corrected moments; `step` counts from 1).
struct AdamW {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  std::int64_t step = 1;
  /// Per element (in the memory of the op's tier): weight decay where nonzero, none where 0;
  /// nullptr decays every element. One call then covers a whole flat parameter buffer in which
  /// weights (decayed) and biases/norms (not) alternate.
  const std::uint8_t* decay_mask = nullptr;
  /// Global gradient-norm clipping inside the step (torch.nn.utils.clip_grad_norm_): where
  /// grad_sumsq (one double in the memory of the op's tier: Σ g² over the whole buffer) is given
  /// and clip_norm is finite, every gradient is read as g·float(clip_norm/(√Σg² + 1e-6)) when that
  /// factor is below 1, the bits clipping in place would give. Read by the op, not the caller, so a
  /// GPU step needs no host round trip for the norm.
  const double* grad_sumsq = nullptr;
  double clip_norm = std::numeric_limits<double>::infinity();
  /// The factor above (1 where no clipping applies), from Σ g² already on the host.
  static float clip_factor(double sumsq, double clip_norm) {
    const double coef = clip_norm / (std::sqrt(sumsq) + 1e-6);
    return coef < 1.0 ? float(coef) : 1.0f;
  }
};

/// Columns of a row-major [rows, cols] array rearranged: dst(i, c) = sign[c] · src(i, from[c]).
/// What the in-plane symmetries of the training augmentation do to features and targets (a swap
/// and sign flips of x/y columns: exact in every precision).
struct ColumnMap {
  static constexpr int kMax = 32;
  int cols = 0;
  int from[kMax] = {};
  float sign[kMax] = {};
  static ColumnMap identity(int cols) {
    ColumnMap m;
    m.cols = cols;
    for (int c = 0; c < cols && c < kMax; ++c) m.from[c] = c, m.sign[c] = 1.0f;
    return m;
  }
  bool is_identity() const {
    for (int c = 0; c < cols; ++c)
      if (from[c] != c || sign[c] != 1.0f) return false;
    return true;
  }
};

// clang-format off
#define FLARE_KERNEL_OPS                                                                          \
  /* y [N,out] = x [N,in] · Wᵀ [in,out] + b [out]; b may be nullptr. */                           \
  void linear_fwd(const float* x, const float* W, const float* b, float* y,                       \
                  std::int64_t N, int in, int out);                                               \
  /* dx [N,in] += dy·W;  dW [out,in] += dyᵀ·x;  db [out] += Σ_n dy. */                            \
  void linear_bwd(const float* x, const float* W, const float* dy, float* dx, float* dW,          \
                  float* db, std::int64_t N, int in, int out);                                    \
                                                                                                  \
  /* GELU, tanh approximation (torch approximate='tanh'), elementwise over n values. */           \
  void gelu_fwd(const float* x, float* y, std::int64_t n);                                        \
  /* dx += gelu'(x)·dy */                                                                         \
  void gelu_bwd(const float* x, const float* dy, float* dx, std::int64_t n);                      \
                                                                                                  \
  /* LayerNorm over the last dim of x [N,C]; gamma, beta [C]; saves mean, rstd [N] for backward.  \
     Biased variance, as torch. */                                                                \
  void layernorm_fwd(const float* x, const float* gamma, const float* beta, float* y,             \
                     float* mean, float* rstd, std::int64_t N, int C, float eps);                 \
  /* dx [N,C] += ...; dgamma, dbeta [C] += ... */                                                 \
  void layernorm_bwd(const float* x, const float* gamma, const float* mean, const float* rstd,    \
                     const float* dy, float* dx, float* dgamma, float* dbeta, std::int64_t N,      \
                     int C);                                                                      \
                                                                                                  \
  /* y = a + b elementwise (y may alias a or b): residual connections. */                         \
  void add(const float* a, const float* b, float* y, std::int64_t n);                             \
                                                                                                  \
  /* FLARE encode (per mesh b, head h): Z[b,h] = softmax_N(s·Q[h]·K[b,h]ᵀ)·V[b,h].                \
     Q [H,M,D] latent queries; K, V [ΣN, C] packed, channel c = h·D + d.                          \
     Out: Z [B,H,M,D]; lse [B,H,M] = log Σ_n exp(s·q_m·k_n) (saved for backward).                 \
     An empty mesh (no points) gives Z = 0 and lse = -inf. */                                     \
  void flare_encode_fwd(const float* Q, const float* K, const float* V,                           \
                        const std::int64_t* offsets, int B, int H, int M, int D, float scale,     \
                        float* Z, float* lse);                                                    \
  /* FLARE decode (per point n of mesh b, head h): Y[n,h] = softmax_M(s·K[n,h]·Q[h]ᵀ)·Z[b,h].     \
     Out: Y [ΣN, C]; lse [ΣN, H] = log Σ_m exp(s·k_n·q_m). */                                     \
  void flare_decode_fwd(const float* Q, const float* K, const float* Z,                           \
                        const std::int64_t* offsets, int B, int H, int M, int D, float scale,     \
                        float* Y, float* lse);                                                    \
  /* Decode backward from the saved Y and lse: dQ [H,M,D] +=, dK [ΣN,C] +=, dZ [B,H,M,D] +=.      \
     With P = softmax_M: dS[n,m] = P[n,m]·(dY[n]·Z[m] − dY[n]·Y[n]). */                           \
  void flare_decode_bwd(const float* Q, const float* K, const float* Z, const float* Y,           \
                        const float* lse, const float* dY, const std::int64_t* offsets, int B,    \
                        int H, int M, int D, float scale, float* dQ, float* dK, float* dZ);       \
  /* Encode backward from the saved Z and lse: dQ +=, dK +=, dV [ΣN,C] +=.                        \
     With P = softmax_N: dS[m,n] = P[m,n]·(dZ[m]·V[n] − dZ[m]·Z[m]). */                           \
  void flare_encode_bwd(const float* Q, const float* K, const float* V, const float* Z,           \
                        const float* lse, const float* dZ, const std::int64_t* offsets, int B,    \
                        int H, int M, int D, float scale, float* dQ, float* dK, float* dV);       \
                                                                                                  \
  /* Mean squared error over n values; returns the loss. */                                       \
  double mse_fwd(const float* pred, const float* target, std::int64_t n);                         \
  /* dpred += scale · 2(pred − target)/n */                                                       \
  void mse_bwd(const float* pred, const float* target, std::int64_t n, float scale, float* dpred); \
  /* Relative L2 per mesh over all its rows and T columns, of the fields denormalised per column \
     c as y = s_c·t + μ_c (col_scale s [T], col_shift μ [T]; nullptr: s = 1, μ = 0):              \
       err[b] = ‖s∘(p − t)‖ / ‖s∘t + μ‖   (with neither: ‖p − t‖ / ‖t‖).                         \
     Normalised inputs keep p − t free of the cancellation a shifted copy would add. */            \
  void rel_l2_fwd(const float* pred, const float* target, const std::int64_t* offsets, int B,     \
                  int T, const float* col_scale, const float* col_shift, double* err);            \
  /* Gradient of scale · mean_b err[b]:                                                           \
       dpred += scale/B · s²∘(p − t)/(‖s∘(p − t)‖·‖s∘t + μ‖) per mesh. */                          \
  void rel_l2_bwd(const float* pred, const float* target, const std::int64_t* offsets, int B,     \
                  int T, const float* col_scale, const float* col_shift, float scale,             \
                  float* dpred);                                                                  \
                                                                                                  \
  /* Σ x², for gradient-norm clipping. */                                                         \
  double sum_squares(const float* x, std::int64_t n);                                             \
  /* x *= a */                                                                                    \
  void scale_inplace(float* x, float a, std::int64_t n);                                          \
  /* One AdamW step over n parameters with their gradients and moments (same layout). */          \
  void adamw_step(float* params, const float* grads, float* m, float* v, std::int64_t n,          \
                  const AdamW& hp);                                                               \
  /* Exponential moving average of the weights after an optimizer step (FLARE.py mlutils EMA,    \
     no bias correction): ema = decay·ema + (1 − decay)·params, elementwise over n values. */     \
  void ema_update(float* ema, const float* params, std::int64_t n, double decay);
// clang-format on

namespace ref {
FLARE_KERNEL_OPS
}  // namespace ref

namespace cpu {
FLARE_KERNEL_OPS
}  // namespace cpu

}  // namespace flare::kernels
