// Reference GELU, tanh approximation (torch approximate='tanh'):
//   gelu(x) = 0.5·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
//   gelu'(x) = 0.5·(1 + tanh(u)) + 0.5·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²)
// Evaluated in double; templates over T for the double-precision gradient tests.
#pragma once

#include <cmath>
#include <cstdint>

namespace flare::kernels::ref::impl {

inline constexpr double kGeluC = 0.7978845608028654;  // √(2/π)
inline constexpr double kGeluA = 0.044715;

template <typename T>
void gelu_fwd(const T* x, T* y, std::int64_t n) {  // x, y [n]
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = T(0.5 * v * (1.0 + std::tanh(kGeluC * (v + kGeluA * v * v * v))));
  }
}

template <typename T>
void gelu_bwd(const T* x, const T* dy, T* dx, std::int64_t n) {  // x, dy, dx [n]
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    const double t = std::tanh(kGeluC * (v + kGeluA * v * v * v));
    const double d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * kGeluC * (1.0 + 3.0 * kGeluA * v * v);
    dx[i] += T(d * double(dy[i]));
  }
}

}  // namespace flare::kernels::ref::impl
