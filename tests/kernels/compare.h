// Element-wise comparison of a kernel output against its oracle, shared by the cpu and cuda suites.
//
// Tolerance rule (llm.c style): element i passes when |got − want| ≤ atol + rtol·|want|. For a value
// that is a reduction of K fp32 terms of magnitude ~s, rounding errors grow like a random walk, so
// the suites use atol = k·ε₃₂·√K·s with a small safety factor k (fp32_atol below) and rtol a few ε₃₂.
// On failure the message names the array, the number of bad elements, the max abs diff and max rel
// diff with their indices, and the first pairs that fail: enough to see an indexing bug at a glance.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace flare::test {

inline constexpr double kEps32 = std::numeric_limits<float>::epsilon();

/// Absolute tolerance for a value reduced over K fp32 terms of typical magnitude `scale`.
inline double fp32_atol(double K, double scale, double k = 8.0) {
  return k * kEps32 * std::sqrt(std::max(K, 1.0)) * scale;
}

/// Compares n values; NaN/Inf must match exactly in kind. Use inside EXPECT_TRUE/ASSERT_TRUE.
template <typename A, typename B>
::testing::AssertionResult all_close(const std::string& name, const A* got, const B* want,
                                     std::int64_t n, double atol, double rtol) {
  std::int64_t bad = 0, i_abs = -1, i_rel = -1;
  double max_abs = 0.0, max_rel = 0.0;
  std::ostringstream first;
  for (std::int64_t i = 0; i < n; ++i) {
    const double g = double(got[i]), w = double(want[i]);
    bool ok;
    double diff;
    if (std::isfinite(w)) {
      diff = std::fabs(g - w);
      ok = std::isfinite(g) && diff <= atol + rtol * std::fabs(w);
    } else {
      diff = (g == w || (std::isnan(g) && std::isnan(w))) ? 0.0 : std::numeric_limits<double>::infinity();
      ok = diff == 0.0;
    }
    if (!std::isfinite(g) && std::isfinite(w)) diff = std::numeric_limits<double>::infinity();
    if (diff > max_abs || (i_abs < 0 && !ok)) max_abs = diff, i_abs = i;
    const double rel = diff / std::max(std::fabs(w), 1e-30);
    if (std::isfinite(w) && rel > max_rel) max_rel = rel, i_rel = i;
    if (!ok && bad++ < 5) first << "\n    [" << i << "] got " << g << " want " << w;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << name << ": " << bad << " of " << n << " elements differ (atol " << atol << ", rtol "
         << rtol << "); max abs diff " << max_abs << " at [" << i_abs << "], max rel diff "
         << max_rel << " at [" << i_rel << "]; first failing pairs:" << first.str();
}

template <typename A, typename B>
::testing::AssertionResult all_close(const std::string& name, const std::vector<A>& got,
                                     const std::vector<B>& want, double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << name << ": size " << got.size() << " vs " << want.size();
  return all_close(name, got.data(), want.data(), std::int64_t(got.size()), atol, rtol);
}

/// max |x| over a vector (the `scale` of fp32_atol), at least 1e-30.
template <typename T>
double max_abs(const std::vector<T>& x) {
  double m = 1e-30;
  for (const T& v : x) m = std::max(m, std::fabs(double(v)));
  return m;
}

/// n values from N(0, sigma²), reproducible from `seed`.
template <typename T = float>
std::vector<T> randn(std::size_t n, unsigned seed, double sigma = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, sigma);
  std::vector<T> v(n);
  for (auto& x : v) x = T(dist(rng));
  return v;
}

/// Converts between float and double copies of a tensor.
template <typename To, typename From>
std::vector<To> cast(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

}  // namespace flare::test
