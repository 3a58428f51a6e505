#include "kernels/ref/rel_l2.h"

#include "kernels/check.h"
#include "kernels/ops.h"

namespace flare::kernels::ref {

void rel_l2_fwd(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                const float* col_scale, const float* col_shift, double* err) {
  check_offsets(offsets, B, "rel_l2_fwd");
  impl::rel_l2_fwd<float>(pred, target, offsets, B, T, col_scale, col_shift, err);
}

void rel_l2_bwd(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                const float* col_scale, const float* col_shift, float scale, float* dpred) {
  check_offsets(offsets, B, "rel_l2_bwd");
  impl::rel_l2_bwd<float>(pred, target, offsets, B, T, col_scale, col_shift, scale, dpred);
}

}  // namespace flare::kernels::ref
