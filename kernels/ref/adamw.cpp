// Reference AdamW step, torch.optim.AdamW semantics (foreach=False), evaluated in double:
//   p ← p·(1 − lr·wd)                          decoupled weight decay, applied first (where
//                                               decay_mask allows)
//   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//   p ← p − lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + eps)
#include <cmath>

#include "common/error.h"
#include "kernels/ops.h"

namespace flare::kernels::ref {

void adamw_step(float* params, const float* grads, float* m, float* v, std::int64_t n,
                const AdamW& hp) {  // params, grads, m, v [n]
  FLARE_CHECK(hp.step >= 1, "adamw_step: step counts from 1, got ", hp.step);
  const double bc1 = 1.0 - std::pow(double(hp.beta1), double(hp.step));
  const double bc2 = 1.0 - std::pow(double(hp.beta2), double(hp.step));
  const double decay = 1.0 - double(hp.lr) * double(hp.weight_decay);
  const float clip = hp.grad_sumsq ? AdamW::clip_factor(*hp.grad_sumsq, hp.clip_norm) : 1.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = !hp.decay_mask || hp.decay_mask[i] ? decay : 1.0;
    const double g = grads[i] * clip;  // float product: the clipped gradient's bits
    const double mi = double(hp.beta1) * m[i] + (1.0 - double(hp.beta1)) * g;
    const double vi = double(hp.beta2) * v[i] + (1.0 - double(hp.beta2)) * g * g;
    const double denom = std::sqrt(vi) / std::sqrt(bc2) + double(hp.eps);
    params[i] = float(double(params[i]) * d - double(hp.lr) / bc1 * mi / denom);
    m[i] = float(mi);
    v[i] = float(vi);
  }
}

}  // namespace flare::kernels::ref
