// cpu relative L2 per mesh (see kernels/ref/rel_l2.h for the definition and its edge cases):
// per mesh, a parallel double-accumulated reduction of ‖p − t‖² and ‖t‖², then a parallel
// elementwise backward.
#include <cmath>

#include "kernels/ops.h"

namespace flare::kernels::cpu {

namespace {
void sums(const float* pred, const float* target, std::int64_t i0, std::int64_t i1, double& ee,
          double& tt) {
  double e2 = 0.0, t2 = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : e2, t2) if (i1 - i0 > 65536)
  for (std::int64_t i = i0; i < i1; ++i) {
    const double e = double(pred[i]) - double(target[i]);
    e2 += e * e;
    t2 += double(target[i]) * double(target[i]);
  }
  ee = e2;
  tt = t2;
}
}  // namespace

void rel_l2_fwd(const float* pred,                // [ΣN, T]
                const float* target,              // [ΣN, T]
                const std::int64_t* offsets,      // [B+1]
                int B, int T, double* err) {      // [B]
  for (int b = 0; b < B; ++b) {
    double ee, tt;
    sums(pred, target, offsets[b] * T, offsets[b + 1] * T, ee, tt);
    err[b] = std::sqrt(ee) / std::sqrt(tt);
  }
}

void rel_l2_bwd(const float* pred,            // [ΣN, T]
                const float* target,          // [ΣN, T]
                const std::int64_t* offsets,  // [B+1]
                int B, int T, float scale,
                float* dpred) {               // [ΣN, T] +=
  for (int b = 0; b < B; ++b) {
    const std::int64_t i0 = offsets[b] * T, i1 = offsets[b + 1] * T;
    double ee, tt;
    sums(pred, target, i0, i1, ee, tt);
    if (ee == 0.0) continue;
    const float f = float(double(scale) / B / (std::sqrt(ee) * std::sqrt(tt)));
#pragma omp parallel for simd schedule(static) if (i1 - i0 > 65536)
    for (std::int64_t i = i0; i < i1; ++i) dpred[i] += f * (pred[i] - target[i]);
  }
}

}  // namespace flare::kernels::cpu
