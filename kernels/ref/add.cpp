// Reference residual add: y = a + b (y may alias a or b: each element is read before it is written).
#include "kernels/ops.h"

namespace flare::kernels::ref {

void add(const float* a, const float* b, float* y, std::int64_t n) {  // a, b, y [n]
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

}  // namespace flare::kernels::ref
