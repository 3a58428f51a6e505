// The model calls its ops through a table of function pointers so that one Model definition runs
// on the production CPU tier (kernels::cpu, float), on the oracle tier (kernels::ref, float), on
// the oracle loops instantiated in double (kernels/ref/*.h impl templates, for the whole-model
// finite-difference test) and on the GPU (kernels/cuda, surrogate/cuda/, when built with CUDA).
//
// Every op takes the backend context first (nullptr on the host, the CudaContext for CUDA), and
// every pointer lives in the table's Memory (host or device). Packed batches are passed as a
// BatchView whose offsets live where the ops read them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/ops.h"
#include "surrogate/bf16.h"
#include "surrogate/buffer.h"
#include "surrogate/config.h"

namespace flare::surrogate {

/// A packed batch as the ops see it: mesh b owns rows offsets[b] .. offsets[b+1].
struct BatchView {
  const std::int64_t* offsets = nullptr;  ///< [B+1] in the table's memory
  int B = 0;
  std::int64_t max_points = 0;    ///< largest mesh (sizes GPU grids without reading offsets back)
  std::int64_t total_points = 0;  ///< offsets[B]
};

/// One ResidualMLP as the fused ops see it (flare.md, ResidualMLP): shapes, the weights as the
/// linear ops read them (A), the biases (P), and for the backward its scratch and gradients.
template <typename A, typename P>
struct MlpOp {
  static constexpr int kMaxLinear = 8;  ///< fc1, up to 6 hidden layers, fc2
  int in = 0, hidden = 0, out = 0;
  int layers = 0;  ///< -1: a single Linear in → out (fc1 only)
  bool input_residual = false, output_residual = false;
  const A* residual = nullptr;  ///< forward: [N, out] added to y (a block's residual stream)
  const A* W[kMaxLinear] = {};  ///< [out_i, in_i]: fc1, fcs..., fc2
  const P* b[kMaxLinear] = {};
  /// Backward scratch, [N, hidden] per hidden layer (overwritten): the recomputed states and the
  /// pre-activation gradients.
  A* hid[kMaxLinear - 1] = {};
  A* da[kMaxLinear - 1] = {};
  P* dW[kMaxLinear] = {};  ///< backward: gradients accumulated into (same order as W, b)
  P* db[kMaxLinear] = {};
};

/// The ops of one model precision. A is the type of point-sized activations and their gradients
/// ([N, ·] tensors); P the type of parameters, their gradients, the optimizer state, LayerNorm
/// statistics, the latent-sized mixer tensors (Q, Z, dQ, dZ), softmax statistics (lse) and loss
/// targets. A = P for the host tiers (float, double) and the fp32 GPU table; A = Bf16, P = float
/// for the bf16 GPU table (docs/architecture.md, "bf16 model path").
template <typename A, typename P = A>
struct OpTable {
  void* ctx = nullptr;
  Memory mem;
  /// W is the A-typed copy of the weights (the master params themselves when A = P); b is P.
  void (*linear_fwd)(void* ctx, const A* x, const A* W, const P* b, A* y, std::int64_t N, int in,
                     int out) = nullptr;
  void (*linear_bwd)(void* ctx, const A* x, const A* W, const A* dy, A* dx, P* dW, P* db,
                     std::int64_t N, int in, int out) = nullptr;
  void (*gelu_fwd)(void* ctx, const A* x, A* y, std::int64_t n) = nullptr;
  void (*gelu_bwd)(void* ctx, const A* x, const A* dy, A* dx, std::int64_t n) = nullptr;
  /// LayerNorm of activations (x, y, dy, dx in A; gamma, beta, mean, rstd and their grads in P).
  void (*layernorm_fwd)(void* ctx, const A* x, const P* gamma, const P* beta, A* y, P* mean,
                        P* rstd, std::int64_t N, int C, P eps) = nullptr;
  void (*layernorm_bwd)(void* ctx, const A* x, const P* gamma, const P* mean, const P* rstd,
                        const A* dy, A* dx, P* dgamma, P* dbeta, std::int64_t N, int C) = nullptr;
  /// LayerNorm of the latent queries (qk_norm): everything in P.
  void (*latent_layernorm_fwd)(void* ctx, const P* x, const P* gamma, const P* beta, P* y,
                               P* mean, P* rstd, std::int64_t N, int C, P eps) = nullptr;
  void (*latent_layernorm_bwd)(void* ctx, const P* x, const P* gamma, const P* mean,
                               const P* rstd, const P* dy, P* dx, P* dgamma, P* dbeta,
                               std::int64_t N, int C) = nullptr;
  void (*add)(void* ctx, const A* a, const A* b, A* y, std::int64_t n) = nullptr;
  /// Optional fused y = gelu(x) + r (a residual MLP's hidden layer: one pass instead of two).
  /// nullptr: the model calls gelu_fwd then add.
  void (*gelu_add_fwd)(void* ctx, const A* x, const A* r, A* y, std::int64_t n) = nullptr;
  /// Optional fused ResidualMLP forward: y [N, out] = mlp(x [N, in]) (+ mlp.residual) in one
  /// pass with the activations on-chip; it keeps nothing for the backward, in training too.
  /// Returns false, doing nothing, for an MLP it does not handle; the model then runs it layer by
  /// layer (as when this is nullptr).
  bool (*residual_mlp_fwd)(void* ctx, const MlpOp<A, P>& mlp, const A* x, A* y,
                           std::int64_t N) = nullptr;
  /// The fused backward of an MLP that residual_mlp_fwd ran, from its input x alone (it re-runs
  /// the chain, biases included): dx [N, in] += ∂loss/∂x (dx may be nullptr), mlp.dW/db +=,
  /// mlp.hid/da overwritten. Present exactly where residual_mlp_fwd is, and takes what it takes.
  bool (*residual_mlp_bwd)(void* ctx, const MlpOp<A, P>& mlp, const A* x, const A* dout, A* dx,
                           std::int64_t N) = nullptr;
  void (*flare_encode_fwd)(void* ctx, const P* Q, const A* K, const A* V, const BatchView& batch,
                           int H, int M, int D, P scale, P* Z, P* lse) = nullptr;
  void (*flare_decode_fwd)(void* ctx, const P* Q, const A* K, const P* Z, const BatchView& batch,
                           int H, int M, int D, P scale, A* Y, P* lse) = nullptr;
  void (*flare_decode_bwd)(void* ctx, const P* Q, const A* K, const P* Z, const A* Y, const P* lse,
                           const A* dY, const BatchView& batch, int H, int M, int D, P scale,
                           P* dQ, A* dK, P* dZ) = nullptr;
  void (*flare_encode_bwd)(void* ctx, const P* Q, const A* K, const A* V, const P* Z, const P* lse,
                           const P* dZ, const BatchView& batch, int H, int M, int D, P scale,
                           P* dQ, A* dK, A* dV) = nullptr;
  /// Optional fused whole-mixer backward for shared encode/decode keys: dQ, dK, dV +=; dZ is
  /// scratch [B,H,M,D] (overwritten). nullptr: the model calls decode_bwd then encode_bwd.
  void (*flare_mixer_bwd)(void* ctx, const P* Q, const A* K, const A* V, const P* Z,
                          const P* lse_enc, const P* lse_dec, const A* dY, const BatchView& batch,
                          int H, int M, int D, P scale, P* dQ, A* dK, A* dV, P* dZ) = nullptr;
  /// y [n] = A(x [n]): the weight copy and inputs of a table with A != P (nullptr when A = P).
  void (*cast_to_act)(void* ctx, const P* x, A* y, std::int64_t n) = nullptr;

  // Losses (A prediction, P target, A gradient; fp32 or wider accumulation) and the optimizer
  // (float tables only; nullptr in the double oracle table). Their results (loss [1], err [B],
  // out [1]) are doubles in the table's memory: a GPU step reads nothing back until its caller
  // downloads them.
  void (*mse_fwd)(void* ctx, const A* pred, const P* target, std::int64_t n,
                  double* loss) = nullptr;
  void (*mse_bwd)(void* ctx, const A* pred, const P* target, std::int64_t n, float scale,
                  A* dpred) = nullptr;
  /// col_scale, col_shift [cols] (table memory, or nullptr) denormalise both fields per column
  /// first (kernels/ref/rel_l2.h): the loss in target units.
  void (*rel_l2_fwd)(void* ctx, const A* pred, const P* target, const BatchView& batch, int cols,
                     const P* col_scale, const P* col_shift, double* err) = nullptr;
  void (*rel_l2_bwd)(void* ctx, const A* pred, const P* target, const BatchView& batch, int cols,
                     const P* col_scale, const P* col_shift, float scale, A* dpred) = nullptr;
  /// out [1] = Σ x²: hp.grad_sumsq of adamw_step, which clips with it.
  void (*sum_squares)(void* ctx, const P* x, std::int64_t n, double* out) = nullptr;
  void (*adamw_step)(void* ctx, P* params, const P* grads, P* m, P* v, std::int64_t n,
                     const kernels::AdamW& hp) = nullptr;
  /// Training samples into a batch (kernels::ColumnMap: the augmentation's pose, or the identity):
  /// dst [rows, map.cols] from src, both in the table's memory, features in A and targets in P.
  void (*map_columns)(void* ctx, const A* src, A* dst, std::int64_t rows,
                      const kernels::ColumnMap& map) = nullptr;
  void (*map_columns_p)(void* ctx, const P* src, P* dst, std::int64_t rows,
                        const kernels::ColumnMap& map) = nullptr;
  /// ema ← decay·ema + (1 − decay)·params over n weights (train --ema).
  void (*ema_update)(void* ctx, P* ema, const P* params, std::int64_t n, double decay) = nullptr;
};

/// kernels::cpu (Eigen + OpenMP): the production CPU path.
OpTable<float> cpu_ops();
/// kernels::ref in float: the oracle, for tests.
OpTable<float> ref_ops();
/// The oracle loops in double, for finite-difference checks of the whole model.
OpTable<double> ref_ops_double();

/// A run-time device choice (mfem's -d cpu|cuda): the op table plus ownership of its context.
struct Backend {
  std::string device;            ///< "cpu" or "cuda"
  OpTable<float> ops;            ///< fp32 model ops, and the optimizer of every precision
  std::shared_ptr<void> owner;   ///< keeps ops.ctx alive (the CUDA context); empty for cpu
  std::string precision = "fp32";  ///< "fp32" or "bf16" (activations; params stay fp32)
  OpTable<Bf16, float> ops_bf16;   ///< bf16-activation ops on the same context (cuda only)
  bool bf16() const { return precision == "bf16"; }
};

/// "cpu" or "cuda", precision "fp32" or "bf16". InputError when cuda is asked for but this build
/// has no CUDA backend or no GPU is present, for bf16 on the cpu, or for any other name. cuda
/// runs on GPU gpu_slot % (visible GPUs): a data-parallel rank passes its rank on the host.
Backend make_backend(const std::string& device, const std::string& precision = "fp32",
                     int gpu_slot = 0);

/// InputError unless precision is fp32, or bf16 with device cuda (checked before any GPU work).
void check_precision(const std::string& device, const std::string& precision);

/// InputError when the backend cannot run this model (`what` names the checkpoint or option source),
/// e.g. the CUDA mixer needs a head dim C/H of 8, 16, 32 or 64 (ggml's supports_op).
void check_supported(const Backend& backend, const ModelConfig& config, const std::string& what);

/// Whether this build has the CUDA backend compiled in.
bool cuda_built();

}  // namespace flare::surrogate
