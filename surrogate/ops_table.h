// The model calls its ops through a table of function pointers so that one Model definition runs
// on the production CPU tier (kernels::cpu, float), on the oracle tier (kernels::ref, float) and
// on the oracle loops instantiated in double (kernels/ref/*.h impl templates), which is what the
// whole-model finite-difference test needs. A CUDA table can be added beside these later.
#pragma once

#include <cstdint>

namespace flare::surrogate {

template <typename T>
struct OpTable {
  void (*linear_fwd)(const T* x, const T* W, const T* b, T* y, std::int64_t N, int in, int out);
  void (*linear_bwd)(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, std::int64_t N,
                     int in, int out);
  void (*gelu_fwd)(const T* x, T* y, std::int64_t n);
  void (*gelu_bwd)(const T* x, const T* dy, T* dx, std::int64_t n);
  void (*layernorm_fwd)(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                        std::int64_t N, int C, T eps);
  void (*layernorm_bwd)(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, std::int64_t N, int C);
  void (*add)(const T* a, const T* b, T* y, std::int64_t n);
  void (*flare_encode_fwd)(const T* Q, const T* K, const T* V, const std::int64_t* offsets, int B,
                           int H, int M, int D, T scale, T* Z, T* lse);
  void (*flare_decode_fwd)(const T* Q, const T* K, const T* Z, const std::int64_t* offsets, int B,
                           int H, int M, int D, T scale, T* Y, T* lse);
  void (*flare_decode_bwd)(const T* Q, const T* K, const T* Z, const T* Y, const T* lse,
                           const T* dY, const std::int64_t* offsets, int B, int H, int M, int D,
                           T scale, T* dQ, T* dK, T* dZ);
  void (*flare_encode_bwd)(const T* Q, const T* K, const T* V, const T* Z, const T* lse,
                           const T* dZ, const std::int64_t* offsets, int B, int H, int M, int D,
                           T scale, T* dQ, T* dK, T* dV);
};

/// kernels::cpu (Eigen + OpenMP): the production CPU path.
OpTable<float> cpu_ops();
/// kernels::ref in float: the oracle, for tests.
OpTable<float> ref_ops();
/// The oracle loops in double, for finite-difference checks of the whole model.
OpTable<double> ref_ops_double();

}  // namespace flare::surrogate
