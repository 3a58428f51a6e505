// Host references for the CUDA tests: the FLARE mixer in fp64 (the oracle) and a "naive bf16"
// version that rounds where a plain bf16 implementation would (scores, probabilities and outputs
// stored in bf16, fp32 accumulation: PyTorch's math SDPA in bf16). The bf16 kernels must stay
// within 2x the naive version's error against fp64 (flash-attention's rule, STYLE.md point 3).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/common.cuh"

namespace flare::test {

inline float bf16_round(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}
inline cuda::bf16 to_bf16(float x) {
  float r = bf16_round(x);
  std::uint32_t u;
  std::memcpy(&u, &r, 4);
  std::uint16_t h = std::uint16_t(u >> 16);
  cuda::bf16 b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float from_bf16(cuda::bf16 b) {
  std::uint16_t h;
  std::memcpy(&h, &b, 2);
  std::uint32_t u = std::uint32_t(h) << 16;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

inline std::vector<float> randn(std::size_t n, float stddev, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// Vector conversions for the tests: fp32 or bf16 values as doubles, fp32 to bf16, and fp32
/// values rounded to what bf16 can hold.
inline std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
inline std::vector<double> widen(const std::vector<cuda::bf16>& v) {
  std::vector<double> o(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) o[i] = from_bf16(v[i]);
  return o;
}
inline std::vector<cuda::bf16> to_bf16(const std::vector<float>& v) {
  std::vector<cuda::bf16> o(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) o[i] = to_bf16(v[i]);
  return o;
}
inline std::vector<float> round_bf16(std::vector<float> v) {
  for (auto& x : v) x = bf16_round(x);
  return v;
}

/// Rounding applied at the points where a naive implementation stores intermediates.
struct Rounding {
  bool bf16 = false;
  double operator()(double x) const { return bf16 ? double(bf16_round(float(x))) : x; }
};

struct MixerRef {
  int B, H, M, D;
  double scale;
  std::vector<std::int64_t> offsets;
  int C() const { return H * D; }
};

// Z [B,H,M,D], lse [B,H,M]
inline void ref_encode_fwd(const MixerRef& r, const std::vector<double>& Q,
                           const std::vector<double>& K, const std::vector<double>& V,
                           std::vector<double>& Z, std::vector<double>& lse, Rounding rnd = {}) {
  const int C = r.C();
  Z.assign(std::size_t(r.B) * r.H * r.M * r.D, 0.0);
  lse.assign(std::size_t(r.B) * r.H * r.M, -INFINITY);
  for (int b = 0; b < r.B; ++b)
    for (int h = 0; h < r.H; ++h)
      for (int m = 0; m < r.M; ++m) {
        const std::int64_t lo = r.offsets[b], hi = r.offsets[b + 1];
        if (hi == lo) continue;
        std::vector<double> s(hi - lo);
        double mx = -INFINITY;
        for (std::int64_t n = lo; n < hi; ++n) {
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += Q[(h * r.M + m) * r.D + d] * K[n * C + h * r.D + d];
          s[n - lo] = rnd(r.scale * acc);
          mx = std::max(mx, s[n - lo]);
        }
        double l = 0;
        for (auto& x : s) l += std::exp(x - mx);
        const std::size_t zi = ((std::size_t(b) * r.H + h) * r.M + m);
        lse[zi] = mx + std::log(l);
        for (int d = 0; d < r.D; ++d) {
          double acc = 0;
          for (std::int64_t n = lo; n < hi; ++n)
            acc += rnd(std::exp(s[n - lo] - mx) / l) * V[n * C + h * r.D + d];
          Z[zi * r.D + d] = rnd(acc);
        }
      }
}

// Y [ΣN,C], lse [ΣN,H]
inline void ref_decode_fwd(const MixerRef& r, const std::vector<double>& Q,
                           const std::vector<double>& K, const std::vector<double>& Z,
                           std::vector<double>& Y, std::vector<double>& lse, Rounding rnd = {}) {
  const int C = r.C();
  const std::int64_t N = r.offsets[r.B];
  Y.assign(std::size_t(N) * C, 0.0);
  lse.assign(std::size_t(N) * r.H, 0.0);
  std::vector<double> s(r.M);
  for (int b = 0; b < r.B; ++b)
    for (std::int64_t n = r.offsets[b]; n < r.offsets[b + 1]; ++n)
      for (int h = 0; h < r.H; ++h) {
        double mx = -INFINITY;
        for (int m = 0; m < r.M; ++m) {
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += Q[(h * r.M + m) * r.D + d] * K[n * C + h * r.D + d];
          s[m] = rnd(r.scale * acc);
          mx = std::max(mx, s[m]);
        }
        double l = 0;
        for (double x : s) l += std::exp(x - mx);
        lse[n * r.H + h] = mx + std::log(l);
        for (int d = 0; d < r.D; ++d) {
          double acc = 0;
          for (int m = 0; m < r.M; ++m)
            acc += rnd(std::exp(s[m] - mx) / l) * Z[((std::size_t(b) * r.H + h) * r.M + m) * r.D + d];
          Y[n * C + h * r.D + d] = rnd(acc);
        }
      }
}

// Decode backward: dQ += , dK +=, dZ +=.
inline void ref_decode_bwd(const MixerRef& r, const std::vector<double>& Q,
                           const std::vector<double>& K, const std::vector<double>& Z,
                           const std::vector<double>& dY, std::vector<double>& dQ,
                           std::vector<double>& dK, std::vector<double>& dZ, Rounding rnd = {}) {
  const int C = r.C();
  std::vector<double> s(r.M), p(r.M);
  for (int b = 0; b < r.B; ++b)
    for (std::int64_t n = r.offsets[b]; n < r.offsets[b + 1]; ++n)
      for (int h = 0; h < r.H; ++h) {
        const double* q = &Q[std::size_t(h) * r.M * r.D];
        const double* z = &Z[(std::size_t(b) * r.H + h) * r.M * r.D];
        const double* k = &K[n * C + h * r.D];
        const double* dy = &dY[n * C + h * r.D];
        double mx = -INFINITY;
        for (int m = 0; m < r.M; ++m) {
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += q[m * r.D + d] * k[d];
          s[m] = rnd(r.scale * acc);
          mx = std::max(mx, s[m]);
        }
        double l = 0;
        for (int m = 0; m < r.M; ++m) l += std::exp(s[m] - mx);
        for (int m = 0; m < r.M; ++m) p[m] = rnd(std::exp(s[m] - mx) / l);
        double delta = 0;  // dY·Y = Σ_m p_m (dY·z_m)
        std::vector<double> dp(r.M);
        for (int m = 0; m < r.M; ++m) {
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += dy[d] * z[m * r.D + d];
          dp[m] = rnd(acc);
          delta += p[m] * dp[m];
        }
        for (int m = 0; m < r.M; ++m) {
          const double ds = rnd(p[m] * (dp[m] - delta));
          for (int d = 0; d < r.D; ++d) {
            dQ[(std::size_t(h) * r.M + m) * r.D + d] += r.scale * ds * k[d];
            dK[n * C + h * r.D + d] += r.scale * ds * q[m * r.D + d];
            dZ[((std::size_t(b) * r.H + h) * r.M + m) * r.D + d] += p[m] * dy[d];
          }
        }
      }
}

// Encode backward: dQ +=, dK +=, dV +=.
inline void ref_encode_bwd(const MixerRef& r, const std::vector<double>& Q,
                           const std::vector<double>& K, const std::vector<double>& V,
                           const std::vector<double>& dZ, std::vector<double>& dQ,
                           std::vector<double>& dK, std::vector<double>& dV, Rounding rnd = {}) {
  const int C = r.C();
  for (int b = 0; b < r.B; ++b)
    for (int h = 0; h < r.H; ++h)
      for (int m = 0; m < r.M; ++m) {
        const std::int64_t lo = r.offsets[b], hi = r.offsets[b + 1];
        if (hi == lo) continue;
        const double* q = &Q[(std::size_t(h) * r.M + m) * r.D];
        const double* dz = &dZ[((std::size_t(b) * r.H + h) * r.M + m) * r.D];
        std::vector<double> s(hi - lo), p(hi - lo), dp(hi - lo);
        double mx = -INFINITY;
        for (std::int64_t n = lo; n < hi; ++n) {
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += q[d] * K[n * C + h * r.D + d];
          s[n - lo] = rnd(r.scale * acc);
          mx = std::max(mx, s[n - lo]);
        }
        double l = 0;
        for (auto x : s) l += std::exp(x - mx);
        double delta = 0;  // dZ·Z = Σ_n p_n (dZ·v_n)
        for (std::int64_t n = lo; n < hi; ++n) {
          p[n - lo] = rnd(std::exp(s[n - lo] - mx) / l);
          double acc = 0;
          for (int d = 0; d < r.D; ++d) acc += dz[d] * V[n * C + h * r.D + d];
          dp[n - lo] = rnd(acc);
          delta += p[n - lo] * dp[n - lo];
        }
        for (std::int64_t n = lo; n < hi; ++n) {
          const double ds = rnd(p[n - lo] * (dp[n - lo] - delta));
          for (int d = 0; d < r.D; ++d) {
            dQ[(std::size_t(h) * r.M + m) * r.D + d] += r.scale * ds * K[n * C + h * r.D + d];
            dK[n * C + h * r.D + d] += r.scale * ds * q[d];
            dV[n * C + h * r.D + d] += p[n - lo] * dz[d];
          }
        }
      }
}

/// Max |a - ref|, and where; with a report of the first mismatches for failure messages.
struct Diff {
  double max_abs = 0, max_ref = 0;
  std::size_t at = 0;
  bool has_nan = false;
};
template <typename A>
Diff diff(const std::vector<A>& a, const std::vector<double>& ref) {
  Diff d;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double x = double(a[i]);
    if (std::isnan(x) && !std::isnan(ref[i])) d.has_nan = true;
    if (std::isinf(ref[i]) && x == ref[i]) continue;
    const double e = std::fabs(x - ref[i]);
    if (e > d.max_abs || std::isnan(e)) {
      d.max_abs = e;
      d.at = i;
    }
    if (std::isfinite(ref[i])) d.max_ref = std::max(d.max_ref, std::fabs(ref[i]));
  }
  return d;
}

/// llm.c's rule: every element within atol + |ref|·eps. Returns "" or a report of the worst and
/// first five failures.
template <typename A>
std::string check_close(const char* name, const std::vector<A>& a, const std::vector<double>& ref,
                        double atol, double eps) {
  std::string report;
  int shown = 0;
  double worst = 0;
  std::size_t worst_i = 0, fails = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double x = double(a[i]);
    if (std::isinf(ref[i]) && x == ref[i]) continue;
    const double e = std::fabs(x - ref[i]);
    if (!(e <= atol + std::fabs(ref[i]) * eps)) {
      ++fails;
      if (!(e <= worst)) {
        worst = e;
        worst_i = i;
      }
      if (shown++ < 5)
        report += " [" + std::to_string(i) + "] got " + std::to_string(x) + " want " +
                  std::to_string(ref[i]) + ";";
    }
  }
  if (!fails) return "";
  return std::string(name) + ": " + std::to_string(fails) + " of " + std::to_string(ref.size()) +
         " outside tolerance, worst |diff| " + std::to_string(worst) + " at " +
         std::to_string(worst_i) + ", first:" + report;
}

}  // namespace flare::test
