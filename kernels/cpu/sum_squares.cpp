// cpu Σ x²: fp32 products, double accumulator per thread (the norm of ~1M gradients must not lose
// the small ones).
#include "kernels/ops.h"

namespace flare::kernels::cpu {

double sum_squares(const float* x, std::int64_t n) {  // x [n]
  double acc = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) acc += double(x[i]) * double(x[i]);
  return acc;
}

}  // namespace flare::kernels::cpu
