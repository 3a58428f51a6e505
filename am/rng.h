// A small deterministic random generator for part geometry and dataset sampling. The standard
// <random> distributions are implementation-defined (libstdc++ and libc++ draw different numbers
// from the same engine), so a seed would not name the same part everywhere; this one is fully
// specified: splitmix64 (Steele et al. 2014) and 53-bit doubles.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace flare::am {

/// One splitmix64 step: a well-mixed 64-bit hash of x (used to derive independent sub-seeds).
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Seed for stream `b` of seed `a` (sample i of dataset seed S, attempt k of a part, ...).
inline std::uint64_t sub_seed(std::uint64_t a, std::uint64_t b) { return mix64(mix64(a) ^ (b * 0xD1B54A32D192ED03ull)); }

/// FNV-1a of a string, to fold names into seeds.
inline std::uint64_t hash_name(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) h = (h ^ std::uint8_t(c)) * 0x100000001B3ull;
  return h;
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    m_state += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = m_state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Log-uniform in [lo, hi), lo > 0.
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  /// Uniform integer in [lo, hi] (inclusive).
  int integer(int lo, int hi) { return lo + int(next() % std::uint64_t(hi - lo + 1)); }
  bool chance(double p) { return uniform() < p; }

 private:
  std::uint64_t m_state;
};

}  // namespace flare::am
