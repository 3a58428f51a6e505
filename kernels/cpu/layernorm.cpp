// cpu LayerNorm over the last dim: one row per iteration, two-pass mean/variance in fp32 (C is the
// channel count, ≤ a few hundred: the two-pass form is accurate where E[x²] − E[x]² would cancel).
// dgamma/dbeta are reductions over N: per-thread partials summed in thread order.
#include <cmath>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

void layernorm_fwd(const float* x,      // [N, C]
                   const float* gamma,  // [C]
                   const float* beta,   // [C]
                   float* y,            // [N, C]
                   float* mean,         // [N]
                   float* rstd,         // [N]
                   std::int64_t N, int C, float eps) {
  const ConstRowVecMap g(gamma, C), bt(beta, C);
#pragma omp parallel for schedule(static) if (N > 256)
  for (std::int64_t n = 0; n < N; ++n) {
    const ConstRowVecMap xr(x + n * C, C);
    const float mu = xr.mean();
    const float var = (xr.array() - mu).square().mean();
    const float rs = 1.0f / std::sqrt(var + eps);
    Eigen::Map<Eigen::RowVectorXf>(y + n * C, C) =
        ((xr.array() - mu) * rs * g.array() + bt.array()).matrix();
    mean[n] = mu;
    rstd[n] = rs;
  }
}

void layernorm_bwd(const float* x,      // [N, C]
                   const float* gamma,  // [C]
                   const float* mean,   // [N]
                   const float* rstd,   // [N]
                   const float* dy,     // [N, C]
                   float* dx,           // [N, C] +=, or nullptr
                   float* dgamma,       // [C] +=, or nullptr
                   float* dbeta,        // [C] +=, or nullptr
                   std::int64_t N, int C) {
  const ConstRowVecMap g(gamma, C);
  const int nt = N > 256 ? max_threads() : 1;
  std::vector<Eigen::RowVectorXf> pg(nt, Eigen::RowVectorXf::Zero(C)), pb(pg);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    Eigen::RowVectorXf xh(C), gy(C);
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < N; ++n) {
      const ConstRowVecMap xr(x + n * C, C), dyr(dy + n * C, C);
      xh = ((xr.array() - mean[n]) * rstd[n]).matrix();
      if (dgamma) pg[t] += dyr.cwiseProduct(xh);
      if (dbeta) pb[t] += dyr;
      if (dx) {
        gy = dyr.cwiseProduct(g);
        const float g_mean = gy.mean(), gx_mean = gy.dot(xh) / float(C);
        Eigen::Map<Eigen::RowVectorXf>(dx + n * C, C) +=
            (rstd[n] * (gy.array() - g_mean - xh.array() * gx_mean)).matrix();
      }
    }
  }
  for (int t = 0; t < nt; ++t) {
    if (dgamma) Eigen::Map<Eigen::RowVectorXf>(dgamma, C) += pg[t];
    if (dbeta) Eigen::Map<Eigen::RowVectorXf>(dbeta, C) += pb[t];
  }
}

}  // namespace flare::kernels::cpu
