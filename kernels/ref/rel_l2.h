// Reference relative L2 error per mesh, over all rows of the mesh and its T columns:
//   err[b] = ‖p − t‖ / ‖t‖;   d(scale·mean_b err)/dp = scale/B · (p − t)/(‖p − t‖·‖t‖).
// A mesh whose target is all zero gives err = inf (p ≠ t) or NaN (p = t): the metric is undefined
// there and hiding it would hide a broken data set. Where p = t exactly the gradient is 0 (the
// subgradient of ‖·‖ at 0), not 0/0.
#pragma once

#include <cmath>
#include <cstdint>

namespace flare::kernels::ref::impl {

template <typename T>
void rel_l2_fwd(const T* pred,                // [ΣN, T]
                const T* target,              // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int ncol,
                double* err) {                // [B]
  for (int b = 0; b < B; ++b) {
    double ee = 0.0, tt = 0.0;
    for (std::int64_t i = offsets[b] * ncol; i < offsets[b + 1] * ncol; ++i) {
      const double e = double(pred[i]) - double(target[i]);
      ee += e * e;
      tt += double(target[i]) * double(target[i]);
    }
    err[b] = std::sqrt(ee) / std::sqrt(tt);
  }
}

template <typename T>
void rel_l2_bwd(const T* pred,                // [ΣN, T]
                const T* target,              // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int ncol, T scale,
                T* dpred) {                   // [ΣN, T] +=
  for (int b = 0; b < B; ++b) {
    const std::int64_t i0 = offsets[b] * ncol, i1 = offsets[b + 1] * ncol;
    double ee = 0.0, tt = 0.0;
    for (std::int64_t i = i0; i < i1; ++i) {
      const double e = double(pred[i]) - double(target[i]);
      ee += e * e;
      tt += double(target[i]) * double(target[i]);
    }
    if (ee == 0.0) continue;
    const double f = double(scale) / B / (std::sqrt(ee) * std::sqrt(tt));
    for (std::int64_t i = i0; i < i1; ++i) dpred[i] += T(f * (double(pred[i]) - double(target[i])));
  }
}

}  // namespace flare::kernels::ref::impl
