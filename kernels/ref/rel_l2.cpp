#include "kernels/ref/rel_l2.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void rel_l2_fwd(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                double* err) {
  impl::rel_l2_fwd<float>(pred, target, offsets, B, T, err);
}

void rel_l2_bwd(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                float scale, float* dpred) {
  impl::rel_l2_bwd<float>(pred, target, offsets, B, T, scale, dpred);
}

}  // namespace flare::kernels::ref
