// Reference LayerNorm over the last dim (torch.nn.LayerNorm: biased variance, eps inside the sqrt).
//   forward:  x̂ = (x − μ)·rstd,  rstd = 1/√(σ² + eps),  y = x̂·γ + β
//   backward: g = dy·γ;  dx = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂));  dγ += Σ_n dy·x̂;  dβ += Σ_n dy
// The saved mean/rstd are what the forward computed (not recomputed), as the fast tiers do.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace flare::kernels::ref::impl {

template <typename T>
void layernorm_fwd(const T* x,      // [N, C]
                   const T* gamma,  // [C]
                   const T* beta,   // [C]
                   T* y,            // [N, C]
                   T* mean,         // [N]
                   T* rstd,         // [N]
                   std::int64_t N, int C, T eps) {
  for (std::int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    double mu = 0.0;
    for (int c = 0; c < C; ++c) mu += xr[c];
    mu /= C;
    double var = 0.0;
    for (int c = 0; c < C; ++c) var += (xr[c] - mu) * (xr[c] - mu);
    var /= C;
    const double rs = 1.0 / std::sqrt(var + double(eps));
    for (int c = 0; c < C; ++c)
      y[n * C + c] = T((xr[c] - mu) * rs * double(gamma[c]) + double(beta[c]));
    mean[n] = T(mu);
    rstd[n] = T(rs);
  }
}

template <typename T>
void layernorm_bwd(const T* x,      // [N, C]
                   const T* gamma,  // [C]
                   const T* mean,   // [N]
                   const T* rstd,   // [N]
                   const T* dy,     // [N, C]
                   T* dx,           // [N, C] +=, or nullptr
                   T* dgamma,       // [C] +=, or nullptr
                   T* dbeta,        // [C] +=, or nullptr
                   std::int64_t N, int C) {
  std::vector<double> dg(C, 0.0), db(C, 0.0);  // Σ over N in double, added once at the end
  for (std::int64_t n = 0; n < N; ++n) {
    const double mu = mean[n], rs = rstd[n];
    double g_mean = 0.0, gx_mean = 0.0;
    for (int c = 0; c < C; ++c) {
      const double xh = (x[n * C + c] - mu) * rs;
      const double g = double(dy[n * C + c]) * double(gamma[c]);
      g_mean += g;
      gx_mean += g * xh;
      dg[c] += double(dy[n * C + c]) * xh;
      db[c] += double(dy[n * C + c]);
    }
    g_mean /= C;
    gx_mean /= C;
    if (dx)
      for (int c = 0; c < C; ++c) {
        const double xh = (x[n * C + c] - mu) * rs;
        const double g = double(dy[n * C + c]) * double(gamma[c]);
        dx[n * C + c] += T(rs * (g - g_mean - xh * gx_mean));
      }
  }
  for (int c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += T(dg[c]);
    if (dbeta) dbeta[c] += T(db[c]);
  }
}

}  // namespace flare::kernels::ref::impl
