// cpu relative L2 per mesh (see kernels/ref/rel_l2.h for the definition, the denormalisation by
// col_scale/col_shift and the edge cases): per mesh, a parallel double-accumulated reduction of
// ‖s∘(p − t)‖² and ‖s∘t + μ‖², then a parallel elementwise backward.
#include <cmath>

#include "kernels/check.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

namespace {
// Rows of T columns: the column of element i is i % T (i0 is a row start).
void sums(const float* pred, const float* target, std::int64_t i0, std::int64_t i1, int T,
          const float* col_scale, const float* col_shift, double& ee, double& yy) {
  double e2 = 0.0, y2 = 0.0;
  if (!col_scale && !col_shift) {
#pragma omp parallel for simd schedule(static) reduction(+ : e2, y2) if (i1 - i0 > 65536)
    for (std::int64_t i = i0; i < i1; ++i) {
      const double e = double(pred[i]) - double(target[i]);
      e2 += e * e;
      y2 += double(target[i]) * double(target[i]);
    }
  } else {
#pragma omp parallel for schedule(static) reduction(+ : e2, y2) if (i1 - i0 > 65536)
    for (std::int64_t i = i0; i < i1; ++i) {
      const int c = int(i % T);
      const double s = col_scale ? double(col_scale[c]) : 1.0;
      const double mu = col_shift ? double(col_shift[c]) : 0.0;
      const double e = s * (double(pred[i]) - double(target[i]));
      const double y = s * double(target[i]) + mu;
      e2 += e * e;
      y2 += y * y;
    }
  }
  ee = e2;
  yy = y2;
}
}  // namespace

void rel_l2_fwd(const float* pred,            // [ΣN, T]
                const float* target,          // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int T,
                const float* col_scale,  // [T] or nullptr
                const float* col_shift,  // [T] or nullptr
                double* err) {           // [B]
  check_offsets(offsets, B, "rel_l2_fwd");
  for (int b = 0; b < B; ++b) {
    double ee, yy;
    sums(pred, target, offsets[b] * T, offsets[b + 1] * T, T, col_scale, col_shift, ee, yy);
    err[b] = std::sqrt(ee) / std::sqrt(yy);
  }
}

void rel_l2_bwd(const float* pred,            // [ΣN, T]
                const float* target,          // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int T,
                const float* col_scale,  // [T] or nullptr
                const float* col_shift,  // [T] or nullptr
                float scale,
                float* dpred) {  // [ΣN, T] +=
  check_offsets(offsets, B, "rel_l2_bwd");
  for (int b = 0; b < B; ++b) {
    const std::int64_t i0 = offsets[b] * T, i1 = offsets[b + 1] * T;
    double ee, yy;
    sums(pred, target, i0, i1, T, col_scale, col_shift, ee, yy);
    if (ee == 0.0) continue;
    const float f = float(double(scale) / B / (std::sqrt(ee) * std::sqrt(yy)));
    if (!col_scale) {
#pragma omp parallel for simd schedule(static) if (i1 - i0 > 65536)
      for (std::int64_t i = i0; i < i1; ++i) dpred[i] += f * (pred[i] - target[i]);
    } else {
#pragma omp parallel for schedule(static) if (i1 - i0 > 65536)
      for (std::int64_t i = i0; i < i1; ++i) {
        const float s = col_scale[i % T];
        dpred[i] += f * s * s * (pred[i] - target[i]);
      }
    }
  }
}

}  // namespace flare::kernels::cpu
