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

template <typename T>
struct OpTable {
  void* ctx = nullptr;
  Memory mem;
  void (*linear_fwd)(void* ctx, const T* x, const T* W, const T* b, T* y, std::int64_t N, int in,
                     int out) = nullptr;
  void (*linear_bwd)(void* ctx, const T* x, const T* W, const T* dy, T* dx, T* dW, T* db,
                     std::int64_t N, int in, int out) = nullptr;
  void (*gelu_fwd)(void* ctx, const T* x, T* y, std::int64_t n) = nullptr;
  void (*gelu_bwd)(void* ctx, const T* x, const T* dy, T* dx, std::int64_t n) = nullptr;
  void (*layernorm_fwd)(void* ctx, const T* x, const T* gamma, const T* beta, T* y, T* mean,
                        T* rstd, std::int64_t N, int C, T eps) = nullptr;
  void (*layernorm_bwd)(void* ctx, const T* x, const T* gamma, const T* mean, const T* rstd,
                        const T* dy, T* dx, T* dgamma, T* dbeta, std::int64_t N, int C) = nullptr;
  void (*add)(void* ctx, const T* a, const T* b, T* y, std::int64_t n) = nullptr;
  void (*flare_encode_fwd)(void* ctx, const T* Q, const T* K, const T* V, const BatchView& batch,
                           int H, int M, int D, T scale, T* Z, T* lse) = nullptr;
  void (*flare_decode_fwd)(void* ctx, const T* Q, const T* K, const T* Z, const BatchView& batch,
                           int H, int M, int D, T scale, T* Y, T* lse) = nullptr;
  void (*flare_decode_bwd)(void* ctx, const T* Q, const T* K, const T* Z, const T* Y, const T* lse,
                           const T* dY, const BatchView& batch, int H, int M, int D, T scale,
                           T* dQ, T* dK, T* dZ) = nullptr;
  void (*flare_encode_bwd)(void* ctx, const T* Q, const T* K, const T* V, const T* Z, const T* lse,
                           const T* dZ, const BatchView& batch, int H, int M, int D, T scale,
                           T* dQ, T* dK, T* dV) = nullptr;
  /// Optional fused whole-mixer backward for shared encode/decode keys: dQ, dK, dV +=; dZ is
  /// scratch [B,H,M,D] (overwritten). nullptr: the model calls decode_bwd then encode_bwd.
  void (*flare_mixer_bwd)(void* ctx, const T* Q, const T* K, const T* V, const T* Z,
                          const T* lse_enc, const T* lse_dec, const T* dY, const BatchView& batch,
                          int H, int M, int D, T scale, T* dQ, T* dK, T* dV, T* dZ) = nullptr;

  // Losses and the optimizer (float tables only; nullptr in the double oracle table).
  double (*mse_fwd)(void* ctx, const T* pred, const T* target, std::int64_t n) = nullptr;
  void (*mse_bwd)(void* ctx, const T* pred, const T* target, std::int64_t n, float scale,
                  T* dpred) = nullptr;
  /// err [B] is HOST memory.
  void (*rel_l2_fwd)(void* ctx, const T* pred, const T* target, const BatchView& batch, int cols,
                     double* err) = nullptr;
  void (*rel_l2_bwd)(void* ctx, const T* pred, const T* target, const BatchView& batch, int cols,
                     float scale, T* dpred) = nullptr;
  double (*sum_squares)(void* ctx, const T* x, std::int64_t n) = nullptr;
  void (*scale_inplace)(void* ctx, T* x, float a, std::int64_t n) = nullptr;
  void (*adamw_step)(void* ctx, T* params, const T* grads, T* m, T* v, std::int64_t n,
                     const kernels::AdamW& hp) = nullptr;
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
  OpTable<float> ops;
  std::shared_ptr<void> owner;   ///< keeps ops.ctx alive (the CUDA context); empty for cpu
};

/// "cpu" or "cuda". InputError when cuda is asked for but this build has no CUDA backend or no GPU
/// is present, or for any other name.
Backend make_backend(const std::string& device);

/// InputError when the backend cannot run this model (`what` names the checkpoint or option source),
/// e.g. the CUDA mixer needs a head dim C/H of 8, 16, 32 or 64 (ggml's supports_op).
void check_supported(const Backend& backend, const ModelConfig& config, const std::string& what);

/// Whether this build has the CUDA backend compiled in.
bool cuda_built();

}  // namespace flare::surrogate
