// cpu moving average of the weights, fp32 as FLARE.py's EMA computes it in torch:
// ema ← (1 − decay)·params + decay·ema, both factors rounded to fp32 once.
#include "kernels/ops.h"

namespace flare::kernels::cpu {

void ema_update(float* ema, const float* params, std::int64_t n, double decay) {  // ema, params [n]
  const float d = float(decay), a = float(1.0 - decay);
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) ema[i] = a * params[i] + d * ema[i];
}

}  // namespace flare::kernels::cpu
