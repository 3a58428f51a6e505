// cpu x *= a.
#include "kernels/ops.h"

namespace flare::kernels::cpu {

void scale_inplace(float* x, float a, std::int64_t n) {  // x [n]
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

}  // namespace flare::kernels::cpu
