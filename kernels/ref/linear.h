// Reference linear layer: y = x·Wᵀ + b with W [out, in] (torch.nn.Linear layout).
// Templates over T so the gradient tests can run the same loops in double; the float instantiation
// behind kernels/ops.h lives in linear.cpp. Every dot product is accumulated in double.
#pragma once

#include <cstdint>

namespace flare::kernels::ref::impl {

template <typename T>
void linear_fwd(const T* x,  // [N, in]
                const T* W,  // [out, in]
                const T* b,  // [out] or nullptr
                T* y,        // [N, out]
                std::int64_t N, int in, int out) {
  for (std::int64_t n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      double acc = b ? double(b[o]) : 0.0;
      for (int i = 0; i < in; ++i) acc += double(x[n * in + i]) * double(W[std::int64_t(o) * in + i]);
      y[n * out + o] = T(acc);
    }
}

template <typename T>
void linear_bwd(const T* x,   // [N, in]
                const T* W,   // [out, in]
                const T* dy,  // [N, out]
                T* dx,        // [N, in] +=, or nullptr
                T* dW,        // [out, in] +=, or nullptr
                T* db,        // [out] +=, or nullptr
                std::int64_t N, int in, int out) {
  if (dx)
    for (std::int64_t n = 0; n < N; ++n)
      for (int i = 0; i < in; ++i) {
        double acc = 0.0;
        for (int o = 0; o < out; ++o)
          acc += double(dy[n * out + o]) * double(W[std::int64_t(o) * in + i]);
        dx[n * in + i] += T(acc);
      }
  if (dW)
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) {
        double acc = 0.0;
        for (std::int64_t n = 0; n < N; ++n) acc += double(dy[n * out + o]) * double(x[n * in + i]);
        dW[std::int64_t(o) * in + i] += T(acc);
      }
  if (db)
    for (int o = 0; o < out; ++o) {
      double acc = 0.0;
      for (std::int64_t n = 0; n < N; ++n) acc += double(dy[n * out + o]);
      db[o] += T(acc);
    }
}

}  // namespace flare::kernels::ref::impl
