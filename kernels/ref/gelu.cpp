#include "kernels/ref/gelu.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void gelu_fwd(const float* x, float* y, std::int64_t n) { impl::gelu_fwd<float>(x, y, n); }

void gelu_bwd(const float* x, const float* dy, float* dx, std::int64_t n) {
  impl::gelu_bwd<float>(x, dy, dx, n);
}

}  // namespace flare::kernels::ref
