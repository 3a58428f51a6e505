#include "kernels/ref/flare_encode.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void flare_encode_fwd(const float* Q, const float* K, const float* V, const std::int64_t* offsets,
                      int B, int H, int M, int D, float scale, float* Z, float* lse) {
  impl::flare_encode_fwd<float>(Q, K, V, offsets, B, H, M, D, scale, Z, lse);
}

void flare_encode_bwd(const float* Q, const float* K, const float* V, const float* Z,
                      const float* lse, const float* dZ, const std::int64_t* offsets, int B, int H,
                      int M, int D, float scale, float* dQ, float* dK, float* dV) {
  impl::flare_encode_bwd<float>(Q, K, V, Z, lse, dZ, offsets, B, H, M, D, scale, dQ, dK, dV);
}

}  // namespace flare::kernels::ref
