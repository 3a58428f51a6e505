#include "kernels/ref/mse.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

double mse_fwd(const float* pred, const float* target, std::int64_t n) {
  return impl::mse_fwd<float>(pred, target, n);
}

void mse_bwd(const float* pred, const float* target, std::int64_t n, float scale, float* dpred) {
  impl::mse_bwd<float>(pred, target, n, scale, dpred);
}

}  // namespace flare::kernels::ref
