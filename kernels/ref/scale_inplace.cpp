// Reference x *= a (gradient clipping, loss scaling).
#include "kernels/ops.h"

namespace flare::kernels::ref {

void scale_inplace(float* x, float a, std::int64_t n) {  // x [n]
  for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

}  // namespace flare::kernels::ref
