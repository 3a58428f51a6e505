#include "kernels/ref/flare_decode.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void flare_decode_fwd(const float* Q, const float* K, const float* Z, const std::int64_t* offsets,
                      int B, int H, int M, int D, float scale, float* Y, float* lse) {
  impl::flare_decode_fwd<float>(Q, K, Z, offsets, B, H, M, D, scale, Y, lse);
}

void flare_decode_bwd(const float* Q, const float* K, const float* Z, const float* Y,
                      const float* lse, const float* dY, const std::int64_t* offsets, int B, int H,
                      int M, int D, float scale, float* dQ, float* dK, float* dZ) {
  impl::flare_decode_bwd<float>(Q, K, Z, Y, lse, dY, offsets, B, H, M, D, scale, dQ, dK, dZ);
}

}  // namespace flare::kernels::ref
