#include "surrogate/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace flare::surrogate {

double clip_grad_norm(float* grads, std::int64_t n, double max_norm) {
  const double norm = std::sqrt(kernels::cpu::sum_squares(grads, n));
  if (std::isfinite(max_norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) kernels::cpu::scale_inplace(grads, static_cast<float>(coef), n);
  }
  return norm;
}

AdamW::AdamW(const ParamLayout& layout, AdamWConfig config, const OpTable<float>& ops)
    : m_config(config),
      m_ops(ops),
      m_n(layout.size()),
      m_m(ops.mem, layout.size(), "AdamW moments"),
      m_v(ops.mem, layout.size(), "AdamW moments"),
      m_decay(ops.mem, layout.size(), "AdamW decay mask") {
  std::vector<std::uint8_t> decay(std::size_t(m_n), 0);
  for (const auto& t : layout.tensors())
    std::fill_n(decay.begin() + t.offset, t.size, std::uint8_t(t.decay ? 1 : 0));
  m_decay.upload(decay.data(), m_n);
}

double AdamW::step(float* params, float* grads, float lr, float beta1) {
  const std::int64_t n = m_n;
  // Same arithmetic as clip_grad_norm, through the table (on the device for CUDA).
  const double norm = std::sqrt(m_ops.sum_squares(m_ops.ctx, grads, n));
  if (std::isfinite(m_config.clip_norm)) {
    const double coef = m_config.clip_norm / (norm + 1e-6);
    if (coef < 1.0) m_ops.scale_inplace(m_ops.ctx, grads, static_cast<float>(coef), n);
  }
  ++m_step;
  kernels::AdamW hp;
  hp.lr = lr >= 0.0f ? lr : m_config.lr;
  hp.beta1 = beta1 >= 0.0f ? beta1 : m_config.beta1;
  hp.beta2 = m_config.beta2;
  hp.eps = m_config.eps;
  hp.step = m_step;
  hp.weight_decay = m_config.weight_decay;
  hp.decay_mask = m_decay.data();
  m_ops.adamw_step(m_ops.ctx, params, grads, m_m.data(), m_v.data(), n, hp);
  return norm;
}

void AdamW::set_state(std::vector<float> m, std::vector<float> v, std::int64_t steps_done) {
  FLARE_CHECK(std::int64_t(m.size()) == m_n && std::int64_t(v.size()) == m_n,
              "AdamW::set_state: moment buffers do not match the parameter layout");
  m_m.upload(m.data(), m_n);
  m_v.upload(v.data(), m_n);
  m_step = steps_done;
}

}  // namespace flare::surrogate
