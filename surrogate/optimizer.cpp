#include "surrogate/optimizer.h"

#include <cmath>

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
      m_v(ops.mem, layout.size(), "AdamW moments") {
  for (const auto& t : layout.tensors()) {
    if (!m_ranges.empty() && m_ranges.back().decay == t.decay &&
        m_ranges.back().offset + m_ranges.back().size == t.offset)
      m_ranges.back().size += t.size;
    else
      m_ranges.push_back({t.offset, t.size, t.decay});
  }
}

double AdamW::step(float* params, float* grads, float lr) {
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
  hp.beta1 = m_config.beta1;
  hp.beta2 = m_config.beta2;
  hp.eps = m_config.eps;
  hp.step = m_step;
  for (const Range& r : m_ranges) {
    hp.weight_decay = r.decay ? m_config.weight_decay : 0.0f;
    m_ops.adamw_step(m_ops.ctx, params + r.offset, grads + r.offset, m_m.data() + r.offset,
                     m_v.data() + r.offset, r.size, hp);
  }
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
