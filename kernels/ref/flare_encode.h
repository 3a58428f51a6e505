// Reference FLARE encode: latents gather from the points of their mesh.
// Per mesh b (rows offsets[b]..offsets[b+1]) and head h, with k_n = K[n, h·D : h·D+D]:
//   S[m,n] = s·q_m·k_n,  lse[m] = log Σ_n e^S[m,n],  P = e^(S − lse),  Z[m] = Σ_n P[m,n]·v_n
// Backward from the saved Z and lse (no N×M matrix is kept between passes):
//   dP[m,n] = dZ[m]·v_n;  dS = P∘(dP − dZ[m]·Z[m]);  dq_m += s·Σ_n dS k_n;  dk_n += s·Σ_m dS q_m;
//   dv_n += Σ_m P[m,n]·dZ[m]
// Naive: for one latent the N scores are held in a vector (fine for an oracle, O(N) memory).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace flare::kernels::ref::impl {

template <typename T>
void flare_encode_fwd(const T* Q,                     // [H, M, D]
                      const T* K,                     // [ΣN, C]
                      const T* V,                     // [ΣN, C]
                      const std::int64_t* offsets,    // [B+1]
                      int B, int H, int M, int D, T scale,
                      T* Z,                           // [B, H, M, D]
                      T* lse) {                       // [B, H, M]
  const std::int64_t C = std::int64_t(H) * D;
  std::vector<double> s, z(D);
  for (int b = 0; b < B; ++b) {
    const std::int64_t n0 = offsets[b], n1 = offsets[b + 1];
    s.resize(n1 - n0);
    for (int h = 0; h < H; ++h)
      for (int m = 0; m < M; ++m) {
        const T* q = Q + (std::int64_t(h) * M + m) * D;
        double mx = -std::numeric_limits<double>::infinity();
        for (std::int64_t n = n0; n < n1; ++n) {
          double acc = 0.0;
          for (int d = 0; d < D; ++d) acc += double(q[d]) * double(K[n * C + h * D + d]);
          s[n - n0] = double(scale) * acc;
          mx = std::max(mx, s[n - n0]);
        }
        double l = 0.0;
        std::fill(z.begin(), z.end(), 0.0);
        for (std::int64_t n = n0; n < n1; ++n) {
          const double p = std::exp(s[n - n0] - mx);
          l += p;
          for (int d = 0; d < D; ++d) z[d] += p * double(V[n * C + h * D + d]);
        }
        const std::int64_t bhm = (std::int64_t(b) * H + h) * M + m;
        for (int d = 0; d < D; ++d) Z[bhm * D + d] = n1 > n0 ? T(z[d] / l) : T(0);
        lse[bhm] = n1 > n0 ? T(mx + std::log(l)) : T(-std::numeric_limits<double>::infinity());
      }
  }
}

template <typename T>
void flare_encode_bwd(const T* Q,                   // [H, M, D]
                      const T* K,                   // [ΣN, C]
                      const T* V,                   // [ΣN, C]
                      const T* Z,                   // [B, H, M, D] saved by forward
                      const T* lse,                 // [B, H, M] saved by forward
                      const T* dZ,                  // [B, H, M, D]
                      const std::int64_t* offsets,  // [B+1]
                      int B, int H, int M, int D, T scale,
                      T* dQ,                        // [H, M, D] +=, or nullptr
                      T* dK,                        // [ΣN, C] +=, or nullptr
                      T* dV) {                      // [ΣN, C] +=, or nullptr
  const std::int64_t C = std::int64_t(H) * D;
  const std::int64_t total = offsets[B];
  // Accumulate every gradient in double, then add once: the oracle has no fp32 summation error.
  std::vector<double> gq(std::size_t(H) * M * D, 0.0), gk(total * C, 0.0), gv(total * C, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int m = 0; m < M; ++m) {
        const T* q = Q + (std::int64_t(h) * M + m) * D;
        const std::int64_t bhm = (std::int64_t(b) * H + h) * M + m;
        double dz_z = 0.0;
        for (int d = 0; d < D; ++d) dz_z += double(dZ[bhm * D + d]) * double(Z[bhm * D + d]);
        for (std::int64_t n = offsets[b]; n < offsets[b + 1]; ++n) {
          const T* k = K + n * C + h * D;
          const T* v = V + n * C + h * D;
          double qk = 0.0, dp = 0.0;
          for (int d = 0; d < D; ++d) {
            qk += double(q[d]) * double(k[d]);
            dp += double(dZ[bhm * D + d]) * double(v[d]);
          }
          const double p = std::exp(double(scale) * qk - double(lse[bhm]));
          const double ds = p * (dp - dz_z);
          for (int d = 0; d < D; ++d) {
            gq[(std::int64_t(h) * M + m) * D + d] += double(scale) * ds * double(k[d]);
            gk[n * C + h * D + d] += double(scale) * ds * double(q[d]);
            gv[n * C + h * D + d] += p * double(dZ[bhm * D + d]);
          }
        }
      }
  if (dQ)
    for (std::size_t i = 0; i < gq.size(); ++i) dQ[i] += T(gq[i]);
  if (dK)
    for (std::size_t i = 0; i < gk.size(); ++i) dK[i] += T(gk[i]);
  if (dV)
    for (std::size_t i = 0; i < gv.size(); ++i) dV[i] += T(gv[i]);
}

}  // namespace flare::kernels::ref::impl
