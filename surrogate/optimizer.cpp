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

AdamW::AdamW(const ParamLayout& layout, AdamWConfig config)
    : m_config(config),
      m_m(static_cast<std::size_t>(layout.size()), 0.0f),
      m_v(static_cast<std::size_t>(layout.size()), 0.0f) {
  for (const auto& t : layout.tensors()) {
    if (!m_ranges.empty() && m_ranges.back().decay == t.decay &&
        m_ranges.back().offset + m_ranges.back().size == t.offset)
      m_ranges.back().size += t.size;
    else
      m_ranges.push_back({t.offset, t.size, t.decay});
  }
}

double AdamW::step(float* params, float* grads, float lr) {
  const std::int64_t n = static_cast<std::int64_t>(m_m.size());
  const double norm = clip_grad_norm(grads, n, m_config.clip_norm);
  ++m_step;
  kernels::AdamW hp;
  hp.lr = lr >= 0.0f ? lr : m_config.lr;
  hp.beta1 = m_config.beta1;
  hp.beta2 = m_config.beta2;
  hp.eps = m_config.eps;
  hp.step = m_step;
  for (const Range& r : m_ranges) {
    hp.weight_decay = r.decay ? m_config.weight_decay : 0.0f;
    kernels::cpu::adamw_step(params + r.offset, grads + r.offset, m_m.data() + r.offset,
                             m_v.data() + r.offset, r.size, hp);
  }
  return norm;
}

void AdamW::set_state(std::vector<float> m, std::vector<float> v, std::int64_t steps_done) {
  FLARE_CHECK(m.size() == m_m.size() && v.size() == m_v.size(),
              "AdamW::set_state: moment buffers do not match the parameter layout");
  m_m = std::move(m);
  m_v = std::move(v);
  m_step = steps_done;
}

}  // namespace flare::surrogate
