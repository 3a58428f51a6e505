// Reference FLARE decode: every point reads back from the latents of its mesh.
// Per point n of mesh b and head h, with k_n = K[n, h·D : h·D+D]:
//   S[n,m] = s·k_n·q_m,  lse[n] = log Σ_m e^S[n,m],  P = e^(S − lse),  Y[n] = Σ_m P[n,m]·Z[b,h,m]
// Backward from the saved Y and lse:
//   dP[n,m] = dY[n]·Z[m];  dS = P∘(dP − dY[n]·Y[n]);  dq_m += s·Σ_n dS k_n;  dk_n += s·Σ_m dS q_m;
//   dZ[m] += Σ_n P[n,m]·dY[n]
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace flare::kernels::ref::impl {

template <typename T>
void flare_decode_fwd(const T* Q,                   // [H, M, D]
                      const T* K,                   // [ΣN, C]
                      const T* Z,                   // [B, H, M, D]
                      const std::int64_t* offsets,  // [B+1]
                      int B, int H, int M, int D, T scale,
                      T* Y,                         // [ΣN, C]
                      T* lse) {                     // [ΣN, H]
  const std::int64_t C = std::int64_t(H) * D;
  std::vector<double> s(M), y(D);
  for (int b = 0; b < B; ++b)
    for (std::int64_t n = offsets[b]; n < offsets[b + 1]; ++n)
      for (int h = 0; h < H; ++h) {
        const T* k = K + n * C + h * D;
        double mx = -std::numeric_limits<double>::infinity();
        for (int m = 0; m < M; ++m) {
          double acc = 0.0;
          for (int d = 0; d < D; ++d) acc += double(k[d]) * double(Q[(std::int64_t(h) * M + m) * D + d]);
          s[m] = double(scale) * acc;
          mx = std::max(mx, s[m]);
        }
        double l = 0.0;
        std::fill(y.begin(), y.end(), 0.0);
        for (int m = 0; m < M; ++m) {
          const double p = std::exp(s[m] - mx);
          l += p;
          const T* z = Z + ((std::int64_t(b) * H + h) * M + m) * D;
          for (int d = 0; d < D; ++d) y[d] += p * double(z[d]);
        }
        for (int d = 0; d < D; ++d) Y[n * C + h * D + d] = T(y[d] / l);
        lse[n * H + h] = T(mx + std::log(l));
      }
}

template <typename T>
void flare_decode_bwd(const T* Q,                   // [H, M, D]
                      const T* K,                   // [ΣN, C]
                      const T* Z,                   // [B, H, M, D]
                      const T* Y,                   // [ΣN, C] saved by forward
                      const T* lse,                 // [ΣN, H] saved by forward
                      const T* dY,                  // [ΣN, C]
                      const std::int64_t* offsets,  // [B+1]
                      int B, int H, int M, int D, T scale,
                      T* dQ,                        // [H, M, D] +=, or nullptr
                      T* dK,                        // [ΣN, C] +=, or nullptr
                      T* dZ) {                      // [B, H, M, D] +=, or nullptr
  const std::int64_t C = std::int64_t(H) * D;
  const std::int64_t total = offsets[B];
  std::vector<double> gq(std::size_t(H) * M * D, 0.0), gk(total * C, 0.0),
      gz(std::size_t(B) * H * M * D, 0.0);
  for (int b = 0; b < B; ++b)
    for (std::int64_t n = offsets[b]; n < offsets[b + 1]; ++n)
      for (int h = 0; h < H; ++h) {
        const T* k = K + n * C + h * D;
        const T* dy = dY + n * C + h * D;
        double dy_y = 0.0;
        for (int d = 0; d < D; ++d) dy_y += double(dy[d]) * double(Y[n * C + h * D + d]);
        for (int m = 0; m < M; ++m) {
          const T* q = Q + (std::int64_t(h) * M + m) * D;
          const std::int64_t bhm = (std::int64_t(b) * H + h) * M + m;
          double qk = 0.0, dp = 0.0;
          for (int d = 0; d < D; ++d) {
            qk += double(q[d]) * double(k[d]);
            dp += double(dy[d]) * double(Z[bhm * D + d]);
          }
          const double p = std::exp(double(scale) * qk - double(lse[n * H + h]));
          const double ds = p * (dp - dy_y);
          for (int d = 0; d < D; ++d) {
            gq[(std::int64_t(h) * M + m) * D + d] += double(scale) * ds * double(k[d]);
            gk[n * C + h * D + d] += double(scale) * ds * double(q[d]);
            gz[bhm * D + d] += p * double(dy[d]);
          }
        }
      }
  if (dQ)
    for (std::size_t i = 0; i < gq.size(); ++i) dQ[i] += T(gq[i]);
  if (dK)
    for (std::size_t i = 0; i < gk.size(); ++i) dK[i] += T(gk[i]);
  if (dZ)
    for (std::size_t i = 0; i < gz.size(); ++i) dZ[i] += T(gz[i]);
}

}  // namespace flare::kernels::ref::impl
