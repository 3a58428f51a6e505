// cpu mean squared error: double accumulator (n reaches N·T ~ 10⁷), fp32 elementwise backward.
#include "common/error.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

double mse_fwd(const float* pred, const float* target, std::int64_t n) {  // pred, target [n]
  FLARE_CHECK(n > 0, "mse_fwd: the mean of zero values is undefined");
  double acc = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = double(pred[i]) - double(target[i]);
    acc += e * e;
  }
  return acc / double(n);
}

void mse_bwd(const float* pred, const float* target, std::int64_t n, float scale,
             float* dpred) {  // [n]
  FLARE_CHECK(n > 0, "mse_bwd: the mean of zero values is undefined");
  const float f = float(2.0 * double(scale) / double(n));
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) dpred[i] += f * (pred[i] - target[i]);
}

}  // namespace flare::kernels::cpu
