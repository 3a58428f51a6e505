#include "kernels/ref/linear.h"

#include "kernels/ops.h"

namespace flare::kernels::ref {

void linear_fwd(const float* x, const float* W, const float* b, float* y, std::int64_t N, int in,
                int out) {
  impl::linear_fwd<float>(x, W, b, y, N, in, out);
}

void linear_bwd(const float* x, const float* W, const float* dy, float* dx, float* dW, float* db,
                std::int64_t N, int in, int out) {
  impl::linear_bwd<float>(x, W, dy, dx, dW, db, N, in, out);
}

}  // namespace flare::kernels::ref
