#include "surrogate/ops_table.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "common/error.h"
#include "kernels/ops.h"
#include "kernels/ref/flare_decode.h"
#include "kernels/ref/flare_encode.h"
#include "kernels/ref/gelu.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/linear.h"
#ifdef FLARE_WITH_CUDA
#include "surrogate/cuda/cuda_backend.h"
#endif

namespace flare::surrogate {

Memory host_memory() {
  Memory m;
  m.ctx = nullptr;
  m.host = true;
  // 64-byte alignment: a cache line, and what Eigen's vectorised loads like.
  m.alloc = [](void*, std::size_t bytes, const char*) -> void* {
    void* p = ::operator new(bytes, std::align_val_t(64));
    std::memset(p, 0, bytes);
    return p;
  };
  m.release = [](void*, void* p, std::size_t) noexcept {
    ::operator delete(p, std::align_val_t(64));
  };
  m.zero = [](void*, void* p, std::size_t bytes) { std::memset(p, 0, bytes); };
  auto cp = [](void*, void* dst, const void* src, std::size_t bytes) {
    std::memcpy(dst, src, bytes);
  };
  m.copy = cp;
  m.upload = cp;
  m.download = cp;
  m.synchronize = [](void*) {};
  m.free_bytes = [](void*) { return std::numeric_limits<std::size_t>::max(); };
  return m;
}

namespace {

// The model ops of a host tier; FN(name) names the tier's function (a macro, so the double table
// can name template instances). The context argument is unused on the host.
#define FLARE_HOST_MODEL_OPS(t, T, FN)                                                              \
  t.mem = host_memory();                                                                            \
  t.linear_fwd = [](void*, const T* x, const T* W, const T* b, T* y, std::int64_t N, int in,        \
                    int out) { FN(linear_fwd)(x, W, b, y, N, in, out); };                           \
  t.linear_bwd = [](void*, const T* x, const T* W, const T* dy, T* dx, T* dW, T* db,                \
                    std::int64_t N, int in, int out) {                                              \
    FN(linear_bwd)(x, W, dy, dx, dW, db, N, in, out);                                               \
  };                                                                                                \
  t.gelu_fwd = [](void*, const T* x, T* y, std::int64_t n) { FN(gelu_fwd)(x, y, n); };              \
  t.gelu_bwd = [](void*, const T* x, const T* dy, T* dx, std::int64_t n) {                          \
    FN(gelu_bwd)(x, dy, dx, n);                                                                     \
  };                                                                                                \
  t.layernorm_fwd = [](void*, const T* x, const T* g, const T* b, T* y, T* mean, T* rstd,           \
                       std::int64_t N, int C, T eps) {                                              \
    FN(layernorm_fwd)(x, g, b, y, mean, rstd, N, C, eps);                                           \
  };                                                                                                \
  t.layernorm_bwd = [](void*, const T* x, const T* g, const T* mean, const T* rstd, const T* dy,    \
                       T* dx, T* dg, T* db, std::int64_t N, int C) {                                \
    FN(layernorm_bwd)(x, g, mean, rstd, dy, dx, dg, db, N, C);                                      \
  };                                                                                                \
  t.latent_layernorm_fwd = t.layernorm_fwd;                                                         \
  t.latent_layernorm_bwd = t.layernorm_bwd;                                                         \
  t.add = [](void*, const T* a, const T* b, T* y, std::int64_t n) {                                 \
    for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];                                        \
  };                                                                                                \
  t.flare_encode_fwd = [](void*, const T* Q, const T* K, const T* V, const BatchView& bt, int H,    \
                          int M, int D, T s, T* Z, T* lse) {                                        \
    FN(flare_encode_fwd)(Q, K, V, bt.offsets, bt.B, H, M, D, s, Z, lse);                            \
  };                                                                                                \
  t.flare_decode_fwd = [](void*, const T* Q, const T* K, const T* Z, const BatchView& bt, int H,    \
                          int M, int D, T s, T* Y, T* lse) {                                        \
    FN(flare_decode_fwd)(Q, K, Z, bt.offsets, bt.B, H, M, D, s, Y, lse);                            \
  };                                                                                                \
  t.flare_decode_bwd = [](void*, const T* Q, const T* K, const T* Z, const T* Y, const T* lse,      \
                          const T* dY, const BatchView& bt, int H, int M, int D, T s, T* dQ,        \
                          T* dK, T* dZ) {                                                           \
    FN(flare_decode_bwd)(Q, K, Z, Y, lse, dY, bt.offsets, bt.B, H, M, D, s, dQ, dK, dZ);            \
  };                                                                                                \
  t.flare_encode_bwd = [](void*, const T* Q, const T* K, const T* V, const T* Z, const T* lse,      \
                          const T* dZ, const BatchView& bt, int H, int M, int D, T s, T* dQ,        \
                          T* dK, T* dV) {                                                           \
    FN(flare_encode_bwd)(Q, K, V, Z, lse, dZ, bt.offsets, bt.B, H, M, D, s, dQ, dK, dV);            \
  };

// dst(i, c) = sign[c]·src(i, from[c]): a sign flip and a copy, exact in every type.
template <typename T>
void map_columns_host(void*, const T* src, T* dst, std::int64_t rows,
                      const kernels::ColumnMap& map) {
  const int C = map.cols;
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c) dst[r * C + c] = T(map.sign[c] * src[r * C + map.from[c]]);
}

#define FLARE_HOST_TRAIN_OPS(t, NS)                                                                 \
  t.mse_fwd = [](void*, const float* p, const float* y, std::int64_t n, double* loss) {            \
    *loss = NS::mse_fwd(p, y, n);                                                                   \
  };                                                                                                \
  t.mse_bwd = [](void*, const float* p, const float* y, std::int64_t n, float s, float* dp) {      \
    NS::mse_bwd(p, y, n, s, dp);                                                                    \
  };                                                                                                \
  t.rel_l2_fwd = [](void*, const float* p, const float* y, const BatchView& bt, int cols,          \
                    const float* cs, const float* cm, double* err) {                                \
    NS::rel_l2_fwd(p, y, bt.offsets, bt.B, cols, cs, cm, err);                                      \
  };                                                                                                \
  t.rel_l2_bwd = [](void*, const float* p, const float* y, const BatchView& bt, int cols,          \
                    const float* cs, const float* cm, float s, float* dp) {                         \
    NS::rel_l2_bwd(p, y, bt.offsets, bt.B, cols, cs, cm, s, dp);                                    \
  };                                                                                                \
  t.sum_squares = [](void*, const float* x, std::int64_t n, double* out) {                         \
    *out = NS::sum_squares(x, n);                                                                   \
  };                                                                                                \
  t.adamw_step = [](void*, float* p, const float* g, float* m, float* v, std::int64_t n,           \
                    const kernels::AdamW& hp) { NS::adamw_step(p, g, m, v, n, hp); };              \
  t.ema_update = [](void*, float* e, const float* p, std::int64_t n, double d) {                   \
    NS::ema_update(e, p, n, d);                                                                     \
  };                                                                                                \
  t.map_columns = map_columns_host<float>;                                                          \
  t.map_columns_p = map_columns_host<float>;

#define FLARE_CPU_FN(name) kernels::cpu::name
#define FLARE_REF_FN(name) kernels::ref::name
#define FLARE_DBL_FN(name) kernels::ref::impl::name<double>

}  // namespace

OpTable<float> cpu_ops() {
  OpTable<float> t;
  FLARE_HOST_MODEL_OPS(t, float, FLARE_CPU_FN)
  // The cpu tier's add is OpenMP-parallel; the loop above is for tiers without one.
  t.add = [](void*, const float* a, const float* b, float* y, std::int64_t n) {
    kernels::cpu::add(a, b, y, n);
  };
  FLARE_HOST_TRAIN_OPS(t, kernels::cpu)
  return t;
}

OpTable<float> ref_ops() {
  OpTable<float> t;
  FLARE_HOST_MODEL_OPS(t, float, FLARE_REF_FN)
  FLARE_HOST_TRAIN_OPS(t, kernels::ref)
  return t;
}

OpTable<double> ref_ops_double() {
  OpTable<double> t;
  FLARE_HOST_MODEL_OPS(t, double, FLARE_DBL_FN)
  return t;
}

bool cuda_built() {
#ifdef FLARE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

void check_supported(const Backend& backend, const ModelConfig& c, const std::string& what) {
  if (backend.device != "cuda" || c.num_blocks == 0) return;  // L = 0 has no mixer
  const int D = c.head_dim();
  FLARE_INPUT_CHECK(D == 8 || D == 16 || D == 32 || D == 64, what,
                    ": --device cuda needs a head dim C/H of 8, 16, 32 or 64, but C = ",
                    c.channel_dim, ", H = ", c.num_heads, " gives ", D,
                    "; change --channels/--heads or use --device cpu");
}

void check_precision(const std::string& device, const std::string& precision) {
  FLARE_INPUT_CHECK(precision == "fp32" || precision == "bf16",
                    "--precision must be fp32 or bf16, got '", precision, "'");
  FLARE_INPUT_CHECK(precision == "fp32" || device == "cuda",
                    "--precision bf16 needs --device cuda (the CPU tiers compute in fp32 only); "
                    "add --device cuda or use --precision fp32");
}

Backend make_backend(const std::string& device, const std::string& precision, int gpu_slot) {
  FLARE_INPUT_CHECK(device == "cpu" || device == "cuda", "--device must be cpu or cuda, got '",
                    device, "'");
  check_precision(device, precision);
  if (device == "cpu") return Backend{"cpu", cpu_ops(), {}};
#ifdef FLARE_WITH_CUDA
  Backend b = cuda_backend(gpu_slot);
  b.precision = precision;
  return b;
#else
  (void)gpu_slot;
  throw InputError(
      "--device cuda: this flare-surrogate was built without CUDA; rebuild with nvcc available "
      "(-DFLARE_ENABLE_CUDA=ON) or use --device cpu");
#endif
}

}  // namespace flare::surrogate
