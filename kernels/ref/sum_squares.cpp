// Reference Σ x² in double (gradient-norm clipping).
#include "kernels/ops.h"

namespace flare::kernels::ref {

double sum_squares(const float* x, std::int64_t n) {  // x [n]
  double acc = 0.0;
  for (std::int64_t i = 0; i < n; ++i) acc += double(x[i]) * double(x[i]);
  return acc;
}

}  // namespace flare::kernels::ref
