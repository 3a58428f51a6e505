// Reference moving average of the weights, in double: ema ← decay·ema + (1 − decay)·params.
#include "kernels/ops.h"

namespace flare::kernels::ref {

void ema_update(float* ema, const float* params, std::int64_t n, double decay) {  // ema, params [n]
  for (std::int64_t i = 0; i < n; ++i)
    ema[i] = float(decay * double(ema[i]) + (1.0 - decay) * double(params[i]));
}

}  // namespace flare::kernels::ref
