// cpu AdamW step over the flat parameter buffer, fp32 elementwise as torch.optim.AdamW does
// (decoupled decay first, then the bias-corrected update; see kernels/ref/adamw.cpp).
#include <cmath>

#include "common/error.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

void adamw_step(float* params, const float* grads, float* m, float* v, std::int64_t n,
                const AdamW& hp) {  // params, grads, m, v [n]
  FLARE_CHECK(hp.step >= 1, "adamw_step: step counts from 1, got ", hp.step);
  const double bc1 = 1.0 - std::pow(double(hp.beta1), double(hp.step));
  const double bc2 = 1.0 - std::pow(double(hp.beta2), double(hp.step));
  const float step_size = float(double(hp.lr) / bc1);
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - hp.lr * hp.weight_decay;
  const float b1 = hp.beta1, b2 = hp.beta2, eps = hp.eps;
  const std::uint8_t* mask = hp.decay_mask;
  const float clip = hp.grad_sumsq ? AdamW::clip_factor(*hp.grad_sumsq, hp.clip_norm) : 1.0f;
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = !mask || mask[i] ? decay : 1.0f;
    const float g = grads[i] * clip;
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] = params[i] * d - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace flare::kernels::cpu
