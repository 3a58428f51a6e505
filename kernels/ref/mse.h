// Reference mean squared error: loss = Σ (p − t)² / n;  dpred += scale·2(p − t)/n.
#pragma once

#include <cstdint>

#include "common/error.h"

namespace flare::kernels::ref::impl {

template <typename T>
double mse_fwd(const T* pred, const T* target, std::int64_t n) {  // pred, target [n]
  FLARE_CHECK(n > 0, "mse_fwd: the mean of zero values is undefined");
  double acc = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = double(pred[i]) - double(target[i]);
    acc += e * e;
  }
  return acc / double(n);
}

template <typename T>
void mse_bwd(const T* pred, const T* target, std::int64_t n, T scale, T* dpred) {  // [n]
  FLARE_CHECK(n > 0, "mse_bwd: the mean of zero values is undefined");
  const double f = 2.0 * double(scale) / double(n);
  for (std::int64_t i = 0; i < n; ++i) dpred[i] += T(f * (double(pred[i]) - double(target[i])));
}

}  // namespace flare::kernels::ref::impl
