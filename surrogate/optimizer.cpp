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
      m_decay(ops.mem, layout.size(), "AdamW decay mask"),
      m_sumsq(ops.mem, 1, "gradient norm") {
  std::vector<std::uint8_t> decay(std::size_t(m_n), 0);
  for (const auto& t : layout.tensors())
    std::fill_n(decay.begin() + t.offset, t.size, std::uint8_t(t.decay ? 1 : 0));
  m_decay.upload(decay.data(), m_n);
}

void AdamW::step(float* params, const float* grads, float lr, float beta1) {
  const std::int64_t n = m_n;
  ++m_step;
  kernels::AdamW hp;
  hp.lr = lr >= 0.0f ? lr : m_config.lr;
  hp.beta1 = beta1 >= 0.0f ? beta1 : m_config.beta1;
  hp.beta2 = m_config.beta2;
  hp.eps = m_config.eps;
  hp.step = m_step;
  hp.weight_decay = m_config.weight_decay;
  hp.decay_mask = m_decay.data();
  // The norm stays in the table's memory and the step clips with it there (clip_grad_norm's
  // arithmetic): on a GPU nothing comes back to the host.
  m_ops.sum_squares(m_ops.ctx, grads, n, m_sumsq.data());
  if (std::isfinite(m_config.clip_norm)) {
    hp.grad_sumsq = m_sumsq.data();
    hp.clip_norm = m_config.clip_norm;
  }
  m_ops.adamw_step(m_ops.ctx, params, grads, m_m.data(), m_v.data(), n, hp);
}

double AdamW::last_grad_norm() const {
  if (m_step == 0) return 0.0;
  double sumsq = 0;
  m_sumsq.download(&sumsq, 1);
  return std::sqrt(sumsq);
}

void AdamW::set_state(std::vector<float> m, std::vector<float> v, std::int64_t steps_done) {
  FLARE_CHECK(std::int64_t(m.size()) == m_n && std::int64_t(v.size()) == m_n,
              "AdamW::set_state: moment buffers do not match the parameter layout");
  m_m.upload(m.data(), m_n);
  m_v.upload(v.data(), m_n);
  m_step = steps_done;
}

}  // namespace flare::surrogate
