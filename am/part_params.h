// Drawing a part family's parameters: each value is recorded in the part's JSON under its key,
// rounded to 0.01 so the JSON reads cleanly and the recorded value is exactly the one used.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "am/rng.h"

namespace flare::am {

/// Degrees (as parameters are recorded) to radians.
inline double radians(double degrees) { return degrees * std::numbers::pi / 180; }

/// Rounds to 0.01: drawn values are recorded in the JSON exactly as they are used.
inline double round2(double v) { return std::round(v * 100) / 100; }

/// Uniform in [lo, hi), rounded to 0.01; lo (rounded) when the range is empty.
inline double uniform2(Rng& rng, double lo, double hi) {
  return hi <= lo ? round2(lo) : round2(rng.uniform(lo, hi));
}

/// Uniform in [lo, hi), rounded to 0.01, recorded as params[key].
inline double draw(Rng& rng, nlohmann::json& params, const char* key, double lo, double hi) {
  const double v = round2(rng.uniform(lo, hi));
  params[key] = v;
  return v;
}

/// Uniform integer in [lo, hi], recorded as params[key].
inline int draw_int(Rng& rng, nlohmann::json& params, const char* key, int lo, int hi) {
  const int v = rng.integer(lo, hi);
  params[key] = v;
  return v;
}

}  // namespace flare::am
