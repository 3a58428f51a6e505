// cpu GELU (tanh approximation), elementwise in fp32 with OpenMP + SIMD.
#include <cmath>

#include "kernels/ops.h"

namespace flare::kernels::cpu {

namespace {
constexpr float kC = 0.7978845608028654f;  // √(2/π)
constexpr float kA = 0.044715f;
}  // namespace

void gelu_fwd(const float* x, float* y, std::int64_t n) {  // x, y [n]
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kC * (v + kA * v * v * v)));
  }
}

void gelu_bwd(const float* x, const float* dy, float* dx, std::int64_t n) {  // x, dy, dx [n]
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = std::tanh(kC * (v + kA * v * v * v));
    dx[i] += dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kC * (1.0f + 3.0f * kA * v * v));
  }
}

}  // namespace flare::kernels::cpu
