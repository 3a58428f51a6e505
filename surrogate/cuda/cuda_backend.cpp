// Adapters from the OpTable<float> and OpTable<Bf16, float> signatures to the kernels/cuda
// launchers. Everything here is
// host code (the launchers are compiled by nvcc in flare_cuda); the context argument is the
// CudaContext, and every launch goes to its stream, so ordering needs no extra synchronisation.
#include "surrogate/cuda/cuda_backend.h"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/flare_mixer.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/loss_optim.cuh"
#include "kernels/cuda/residual_mlp.cuh"

namespace flare::surrogate {

namespace {

cuda::CudaContext& C(void* ctx) { return *static_cast<cuda::CudaContext*>(ctx); }

// The host Bf16 and CUDA's __nv_bfloat16 are the same 16 bits.
static_assert(sizeof(Bf16) == sizeof(cuda::bf16) && alignof(Bf16) == alignof(cuda::bf16));
const cuda::bf16* D(const Bf16* p) { return reinterpret_cast<const cuda::bf16*>(p); }
cuda::bf16* D(Bf16* p) { return reinterpret_cast<cuda::bf16*>(p); }

cuda::PackedBatch packed(const BatchView& b) {
  return cuda::PackedBatch{b.offsets, b.B, b.max_points, b.total_points};
}

cuda::MixerShape shape(int H, int M, int D, float scale) {
  cuda::MixerShape s;
  s.H = H;
  s.M = M;
  s.D = D;
  s.scale = scale;
  return s;
}

cuda::ResidualMlpArgs mlp_args(const MlpOp<Bf16, float>& m) {
  static_assert(MlpOp<Bf16, float>::kMaxLinear == cuda::ResidualMlpArgs::kMaxLinear);
  cuda::ResidualMlpArgs a;
  a.in = m.in, a.hidden = m.hidden, a.out = m.out, a.layers = m.layers;
  a.input_residual = m.input_residual, a.output_residual = m.output_residual;
  a.residual = D(m.residual);
  for (int i = 0; i < a.kMaxLinear; ++i)
    a.W[i] = D(m.W[i]), a.b[i] = m.b[i], a.dW[i] = m.dW[i], a.db[i] = m.db[i];
  for (int i = 0; i < a.kMaxLinear - 1; ++i) a.hid[i] = D(m.hid[i]), a.da[i] = D(m.da[i]);
  return a;
}

Memory device_memory(cuda::CudaContext& ctx) {
  Memory m;
  m.ctx = &ctx;
  m.host = false;
  m.alloc = [](void* c, std::size_t bytes, const char* what) -> void* {
    void* p = cuda::device_malloc(bytes, what);
    FLARE_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, C(c).stream()));
    return p;
  };
  m.release = [](void*, void* p, std::size_t bytes) noexcept { cuda::device_free(p, bytes); };
  m.zero = [](void* c, void* p, std::size_t bytes) {
    FLARE_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, C(c).stream()));
  };
  m.copy = [](void* c, void* dst, const void* src, std::size_t bytes) {
    FLARE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, C(c).stream()));
  };
  // Host sides are ordinary (pageable) memory that the caller may reuse at once. Small uploads
  // (offsets, scalars: every step) go through the context's pinned ring and do not wait; large
  // ones synchronise.
  m.upload = [](void* c, void* dst, const void* src, std::size_t bytes) {
    if (bytes <= cuda::CudaContext::kStageSlotBytes) return C(c).upload_async(dst, src, bytes);
    FLARE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, C(c).stream()));
    C(c).synchronize();
  };
  m.download = [](void* c, void* dst, const void* src, std::size_t bytes) {
    FLARE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, C(c).stream()));
    C(c).synchronize();
  };
  m.synchronize = [](void* c) { C(c).synchronize(); };
  m.free_bytes = [](void*) {
    std::size_t free_b = 0, total_b = 0;
    FLARE_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return free_b;
  };
  return m;
}

}  // namespace

OpTable<float> cuda_ops(cuda::CudaContext& ctx) {
  OpTable<float> t;
  t.ctx = &ctx;
  t.mem = device_memory(ctx);
  t.linear_fwd = [](void* c, const float* x, const float* W, const float* b, float* y,
                    std::int64_t N, int in,
                    int out) { cuda::linear_fwd<float>(C(c), x, W, b, y, N, in, out); };
  t.linear_bwd = [](void* c, const float* x, const float* W, const float* dy, float* dx, float* dW,
                    float* db, std::int64_t N, int in,
                    int out) { cuda::linear_bwd<float>(C(c), x, W, dy, dx, dW, db, N, in, out); };
  t.gelu_fwd = [](void* c, const float* x, float* y, std::int64_t n) {
    cuda::gelu_fwd<float>(C(c), x, y, n);
  };
  t.gelu_bwd = [](void* c, const float* x, const float* dy, float* dx, std::int64_t n) {
    cuda::gelu_bwd<float>(C(c), x, dy, dx, n);
  };
  t.layernorm_fwd = [](void* c, const float* x, const float* g, const float* b, float* y,
                       float* mean, float* rstd, std::int64_t N, int Cn, float eps) {
    cuda::layernorm_fwd<float>(C(c), x, g, b, y, mean, rstd, N, Cn, eps);
  };
  t.layernorm_bwd = [](void* c, const float* x, const float* g, const float* mean,
                       const float* rstd, const float* dy, float* dx, float* dg, float* db,
                       std::int64_t N, int Cn) {
    cuda::layernorm_bwd<float>(C(c), x, g, mean, rstd, dy, dx, dg, db, N, Cn);
  };
  t.add = [](void* c, const float* a, const float* b, float* y, std::int64_t n) {
    cuda::add<float>(C(c), a, b, y, n);
  };
  t.gelu_add_fwd = [](void* c, const float* x, const float* r, float* y, std::int64_t n) {
    cuda::gelu_add_fwd<float>(C(c), x, r, y, n);
  };
  t.flare_encode_fwd = [](void* c, const float* Q, const float* K, const float* V,
                          const BatchView& bt, int H, int M, int D, float s, float* Z, float* lse) {
    cuda::flare_encode_fwd<float>(C(c), Q, K, V, packed(bt), shape(H, M, D, s), Z, lse);
  };
  t.flare_decode_fwd = [](void* c, const float* Q, const float* K, const float* Z,
                          const BatchView& bt, int H, int M, int D, float s, float* Y, float* lse) {
    cuda::flare_decode_fwd<float>(C(c), Q, K, Z, packed(bt), shape(H, M, D, s), Y, lse);
  };
  t.latent_layernorm_fwd = t.layernorm_fwd;
  t.latent_layernorm_bwd = t.layernorm_bwd;
  // The CUDA decode backward recomputes rowsum(dY∘Y) from the scores instead of reading Y.
  t.flare_decode_bwd = [](void* c, const float* Q, const float* K, const float* Z, const float*,
                          const float* lse, const float* dY, const BatchView& bt, int H, int M,
                          int D, float s, float* dQ, float* dK, float* dZ) {
    cuda::flare_decode_bwd<float>(C(c), Q, K, Z, lse, dY, packed(bt), shape(H, M, D, s), dQ, dK,
                                  dZ);
  };
  t.flare_encode_bwd = [](void* c, const float* Q, const float* K, const float* V, const float* Z,
                          const float* lse, const float* dZ, const BatchView& bt, int H, int M,
                          int D, float s, float* dQ, float* dK, float* dV) {
    cuda::flare_encode_bwd<float>(C(c), Q, K, V, Z, lse, dZ, packed(bt), shape(H, M, D, s), dQ, dK,
                                  dV);
  };
  t.flare_mixer_bwd = [](void* c, const float* Q, const float* K, const float* V, const float* Z,
                         const float* lse_enc, const float* lse_dec, const float* dY,
                         const BatchView& bt, int H, int M, int D, float s, float* dQ, float* dK,
                         float* dV, float* dZ) {
    cuda::flare_mixer_bwd<float>(C(c), Q, K, V, Z, lse_enc, lse_dec, dY, packed(bt),
                                 shape(H, M, D, s), dQ, dK, dV, dZ);
  };
  t.mse_fwd = [](void* c, const float* p, const float* y, std::int64_t n, double* loss) {
    cuda::mse_fwd_to<float>(C(c), p, y, n, loss);
  };
  t.mse_bwd = [](void* c, const float* p, const float* y, std::int64_t n, float s, float* dp) {
    cuda::mse_bwd<float>(C(c), p, y, n, s, dp);
  };
  t.rel_l2_fwd = [](void* c, const float* p, const float* y, const BatchView& bt, int cols,
                    const float* cs, const float* cm, double* err) {
    cuda::rel_l2_fwd_to<float>(C(c), p, y, bt.offsets, bt.B, bt.total_points, cols, cs, cm, err);
  };
  t.rel_l2_bwd = [](void* c, const float* p, const float* y, const BatchView& bt, int cols,
                    const float* cs, const float* cm, float s, float* dp) {
    cuda::rel_l2_bwd<float>(C(c), p, y, bt.offsets, bt.B, bt.total_points, cols, cs, cm, s, dp);
  };
  t.sum_squares = [](void* c, const float* x, std::int64_t n, double* out) {
    cuda::sum_squares_to(C(c), x, n, out);
  };
  t.adamw_step = [](void* c, float* p, const float* g, float* m, float* v, std::int64_t n,
                    const kernels::AdamW& hp) { cuda::adamw_step(C(c), p, g, m, v, n, hp); };
  t.ema_update = [](void* c, float* e, const float* p, std::int64_t n, double d) {
    cuda::ema_update(C(c), e, p, n, d);
  };
  t.map_columns = [](void* c, const float* s, float* d, std::int64_t rows,
                     const kernels::ColumnMap& m) { cuda::map_columns<float>(C(c), s, d, rows, m); };
  t.map_columns_p = t.map_columns;
  return t;
}

OpTable<Bf16, float> cuda_ops_bf16(cuda::CudaContext& ctx) {
  using B = Bf16;
  OpTable<B, float> t;
  t.ctx = &ctx;
  t.mem = device_memory(ctx);
  t.linear_fwd = [](void* c, const B* x, const B* W, const float* b, B* y, std::int64_t N, int in,
                    int out) {
    cuda::linear_fwd<cuda::bf16>(C(c), D(x), D(W), b, D(y), N, in, out);
  };
  t.linear_bwd = [](void* c, const B* x, const B* W, const B* dy, B* dx, float* dW, float* db,
                    std::int64_t N, int in, int out) {
    cuda::linear_bwd<cuda::bf16>(C(c), D(x), D(W), D(dy), D(dx), dW, db, N, in, out);
  };
  t.gelu_fwd = [](void* c, const B* x, B* y, std::int64_t n) {
    cuda::gelu_fwd<cuda::bf16>(C(c), D(x), D(y), n);
  };
  t.gelu_bwd = [](void* c, const B* x, const B* dy, B* dx, std::int64_t n) {
    cuda::gelu_bwd<cuda::bf16>(C(c), D(x), D(dy), D(dx), n);
  };
  t.layernorm_fwd = [](void* c, const B* x, const float* g, const float* b, B* y, float* mean,
                       float* rstd, std::int64_t N, int Cn, float eps) {
    cuda::layernorm_fwd<cuda::bf16>(C(c), D(x), g, b, D(y), mean, rstd, N, Cn, eps);
  };
  t.layernorm_bwd = [](void* c, const B* x, const float* g, const float* mean, const float* rstd,
                       const B* dy, B* dx, float* dg, float* db, std::int64_t N, int Cn) {
    cuda::layernorm_bwd<cuda::bf16>(C(c), D(x), g, mean, rstd, D(dy), D(dx), dg, db, N, Cn);
  };
  t.latent_layernorm_fwd = [](void* c, const float* x, const float* g, const float* b, float* y,
                              float* mean, float* rstd, std::int64_t N, int Cn, float eps) {
    cuda::layernorm_fwd<float>(C(c), x, g, b, y, mean, rstd, N, Cn, eps);
  };
  t.latent_layernorm_bwd = [](void* c, const float* x, const float* g, const float* mean,
                              const float* rstd, const float* dy, float* dx, float* dg, float* db,
                              std::int64_t N, int Cn) {
    cuda::layernorm_bwd<float>(C(c), x, g, mean, rstd, dy, dx, dg, db, N, Cn);
  };
  t.add = [](void* c, const B* a, const B* b, B* y, std::int64_t n) {
    cuda::add<cuda::bf16>(C(c), D(a), D(b), D(y), n);
  };
  t.gelu_add_fwd = [](void* c, const B* x, const B* r, B* y, std::int64_t n) {
    cuda::gelu_add_fwd<cuda::bf16>(C(c), D(x), D(r), D(y), n);
  };
  t.residual_mlp_fwd = [](void* c, const MlpOp<B, float>& m, const B* x, B* y, std::int64_t N) {
    const cuda::ResidualMlpArgs a = mlp_args(m);
    if (!cuda::residual_mlp_supported(C(c), a, D(x), D(y))) return false;
    cuda::residual_mlp_fwd(C(c), a, D(x), D(y), N);
    return true;
  };
  t.residual_mlp_bwd = [](void* c, const MlpOp<B, float>& m, const B* x, const B* dy, B* dx,
                          std::int64_t N) {
    const cuda::ResidualMlpArgs a = mlp_args(m);
    if (!cuda::residual_mlp_bwd_supported(C(c), a, D(x), D(dy), D(dx))) return false;
    cuda::residual_mlp_bwd(C(c), a, D(x), D(dy), D(dx), N);
    return true;
  };
  t.flare_encode_fwd = [](void* c, const float* Q, const B* K, const B* V, const BatchView& bt,
                          int H, int M, int Dh, float s, float* Z, float* lse) {
    cuda::flare_encode_fwd<cuda::bf16>(C(c), Q, D(K), D(V), packed(bt), shape(H, M, Dh, s), Z, lse);
  };
  t.flare_decode_fwd = [](void* c, const float* Q, const B* K, const float* Z, const BatchView& bt,
                          int H, int M, int Dh, float s, B* Y, float* lse) {
    cuda::flare_decode_fwd<cuda::bf16>(C(c), Q, D(K), Z, packed(bt), shape(H, M, Dh, s), D(Y), lse);
  };
  t.flare_decode_bwd = [](void* c, const float* Q, const B* K, const float* Z, const B*,
                          const float* lse, const B* dY, const BatchView& bt, int H, int M, int Dh,
                          float s, float* dQ, B* dK, float* dZ) {
    cuda::flare_decode_bwd<cuda::bf16>(C(c), Q, D(K), Z, lse, D(dY), packed(bt), shape(H, M, Dh, s),
                                       dQ, D(dK), dZ);
  };
  t.flare_encode_bwd = [](void* c, const float* Q, const B* K, const B* V, const float* Z,
                          const float* lse, const float* dZ, const BatchView& bt, int H, int M,
                          int Dh, float s, float* dQ, B* dK, B* dV) {
    cuda::flare_encode_bwd<cuda::bf16>(C(c), Q, D(K), D(V), Z, lse, dZ, packed(bt),
                                       shape(H, M, Dh, s), dQ, D(dK), D(dV));
  };
  t.flare_mixer_bwd = [](void* c, const float* Q, const B* K, const B* V, const float* Z,
                         const float* lse_enc, const float* lse_dec, const B* dY,
                         const BatchView& bt, int H, int M, int Dh, float s, float* dQ, B* dK,
                         B* dV, float* dZ) {
    cuda::flare_mixer_bwd<cuda::bf16>(C(c), Q, D(K), D(V), Z, lse_enc, lse_dec, D(dY), packed(bt),
                                      shape(H, M, Dh, s), dQ, D(dK), D(dV), dZ);
  };
  t.cast_to_act = [](void* c, const float* x, B* y, std::int64_t n) {
    cuda::cast_to_bf16(C(c), x, D(y), n);
  };
  t.mse_fwd = [](void* c, const B* p, const float* y, std::int64_t n, double* loss) {
    cuda::mse_fwd_to<cuda::bf16>(C(c), D(p), y, n, loss);
  };
  t.mse_bwd = [](void* c, const B* p, const float* y, std::int64_t n, float s, B* dp) {
    cuda::mse_bwd<cuda::bf16>(C(c), D(p), y, n, s, D(dp));
  };
  t.rel_l2_fwd = [](void* c, const B* p, const float* y, const BatchView& bt, int cols,
                    const float* cs, const float* cm, double* err) {
    cuda::rel_l2_fwd_to<cuda::bf16>(C(c), D(p), y, bt.offsets, bt.B, bt.total_points, cols, cs,
                                    cm, err);
  };
  t.rel_l2_bwd = [](void* c, const B* p, const float* y, const BatchView& bt, int cols,
                    const float* cs, const float* cm, float s, B* dp) {
    cuda::rel_l2_bwd<cuda::bf16>(C(c), D(p), y, bt.offsets, bt.B, bt.total_points, cols, cs, cm, s,
                                 D(dp));
  };
  // The optimizer works on the fp32 master params: the fp32 table's ops.
  const OpTable<float> f = cuda_ops(ctx);
  t.sum_squares = f.sum_squares;
  t.adamw_step = f.adamw_step;
  t.ema_update = f.ema_update;
  t.map_columns = [](void* c, const B* s, B* d, std::int64_t rows, const kernels::ColumnMap& m) {
    cuda::map_columns<cuda::bf16>(C(c), D(s), D(d), rows, m);
  };
  t.map_columns_p = f.map_columns;
  return t;
}

Backend cuda_backend(int gpu_slot) {
  FLARE_INPUT_CHECK(cuda::cuda_available(),
                    "--device cuda: no CUDA GPU is visible to this process (check nvidia-smi and "
                    "CUDA_VISIBLE_DEVICES); use --device cpu");
  int count = 0;
  FLARE_CUDA_CHECK(cudaGetDeviceCount(&count));
  auto ctx = std::make_shared<cuda::CudaContext>(gpu_slot % count);
  Backend b{"cuda", cuda_ops(*ctx), ctx};
  b.ops_bf16 = cuda_ops_bf16(*ctx);
  return b;
}

}  // namespace flare::surrogate
