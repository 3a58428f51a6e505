#include "kernels/ref/layernorm.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void layernorm_fwd(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                   float* rstd, std::int64_t N, int C, float eps) {
  impl::layernorm_fwd<float>(x, gamma, beta, y, mean, rstd, N, C, eps);
}

void layernorm_bwd(const float* x, const float* gamma, const float* mean, const float* rstd,
                   const float* dy, float* dx, float* dgamma, float* dbeta, std::int64_t N, int C) {
  impl::layernorm_bwd<float>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, N, C);
}

}  // namespace flare::kernels::ref
