// cpu residual add, y = a + b (y may alias a or b).
#include "kernels/ops.h"

namespace flare::kernels::cpu {

void add(const float* a, const float* b, float* y, std::int64_t n) {  // a, b, y [n]
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

}  // namespace flare::kernels::cpu
