// Reference relative L2 error per mesh, over all rows of the mesh and its T columns, of the fields
// denormalised per column c as y = s_c·t + μ_c (s = col_scale, μ = col_shift; nullptr: 1 and 0):
//   err[b] = ‖s∘(p − t)‖ / ‖s∘t + μ‖;
//   d(scale·mean_b err)/dp = scale/B · s²∘(p − t)/(‖s∘(p − t)‖·‖s∘t + μ‖).
// The trainer's `--loss rel_l2` passes the normaliser's target std and mean, so the loss is the
// metric it reports (‖ŷ − y‖/‖y‖ in target units); `rel_l2_normalized` passes neither.
// A mesh whose (denormalised) target is all zero gives err = inf (p ≠ t) or NaN (p = t): the
// metric is undefined there and hiding it would hide a broken data set. Where p = t exactly the
// gradient is 0 (the subgradient of ‖·‖ at 0), not 0/0.
#pragma once

#include <cmath>
#include <cstdint>

namespace flare::kernels::ref::impl {

template <typename T>
void rel_l2_sums(const T* pred, const T* target, std::int64_t i0, std::int64_t i1, int ncol,
                 const T* col_scale, const T* col_shift, double& ee, double& yy) {
  ee = 0.0;
  yy = 0.0;
  for (std::int64_t i = i0; i < i1; ++i) {
    const int c = int(i % ncol);
    const double s = col_scale ? double(col_scale[c]) : 1.0;
    const double mu = col_shift ? double(col_shift[c]) : 0.0;
    const double e = s * (double(pred[i]) - double(target[i]));
    const double y = s * double(target[i]) + mu;
    ee += e * e;
    yy += y * y;
  }
}

template <typename T>
void rel_l2_fwd(const T* pred,                // [ΣN, T]
                const T* target,              // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int ncol,
                const T* col_scale,  // [T] or nullptr
                const T* col_shift,  // [T] or nullptr
                double* err) {       // [B]
  for (int b = 0; b < B; ++b) {
    double ee, yy;
    rel_l2_sums(pred, target, offsets[b] * ncol, offsets[b + 1] * ncol, ncol, col_scale, col_shift,
                ee, yy);
    err[b] = std::sqrt(ee) / std::sqrt(yy);
  }
}

template <typename T>
void rel_l2_bwd(const T* pred,                // [ΣN, T]
                const T* target,              // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int ncol,
                const T* col_scale,  // [T] or nullptr
                const T* col_shift,  // [T] or nullptr
                T scale,
                T* dpred) {  // [ΣN, T] +=
  for (int b = 0; b < B; ++b) {
    const std::int64_t i0 = offsets[b] * ncol, i1 = offsets[b + 1] * ncol;
    double ee, yy;
    rel_l2_sums(pred, target, i0, i1, ncol, col_scale, col_shift, ee, yy);
    if (ee == 0.0) continue;
    const double f = double(scale) / B / (std::sqrt(ee) * std::sqrt(yy));
    for (std::int64_t i = i0; i < i1; ++i) {
      const double s = col_scale ? double(col_scale[i % ncol]) : 1.0;
      dpred[i] += T(f * s * s * (double(pred[i]) - double(target[i])));
    }
  }
}

}  // namespace flare::kernels::ref::impl
