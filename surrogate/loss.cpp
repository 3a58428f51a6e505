#include "surrogate/loss.h"

#include <algorithm>

#include "common/error.h"
#include "kernels/ops.h"

namespace flare::surrogate {

double mse_loss(const float* pred, const float* target, std::int64_t n, float* dpred) {
  FLARE_CHECK(n > 0, "mse_loss: empty batch");
  const double loss = kernels::cpu::mse_fwd(pred, target, n);
  if (dpred) {
    std::fill(dpred, dpred + n, 0.0f);
    kernels::cpu::mse_bwd(pred, target, n, 1.0f, dpred);
  }
  return loss;
}

std::vector<double> rel_l2(const float* pred, const float* target, const std::int64_t* offsets,
                           int B, int T) {
  std::vector<double> err(static_cast<std::size_t>(B));
  kernels::cpu::rel_l2_fwd(pred, target, offsets, B, T, nullptr, nullptr, err.data());
  return err;
}

double rel_l2_loss(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                   float* dpred) {
  const auto err = rel_l2(pred, target, offsets, B, T);
  double mean = 0.0;
  for (double e : err) mean += e;
  mean /= B;
  if (dpred) {
    std::fill(dpred, dpred + offsets[B] * T, 0.0f);
    kernels::cpu::rel_l2_bwd(pred, target, offsets, B, T, nullptr, nullptr, 1.0f, dpred);
  }
  return mean;
}

}  // namespace flare::surrogate
