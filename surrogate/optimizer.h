// AdamW over the whole flat parameter buffer, with global gradient-norm clipping.
//
// Weight decay as FLARE.py's make_optimizer_adamw applies it: only Linear weights decay
// (ParamInfo::decay); biases, LayerNorm parameters and latent queries are in the no-decay groups.
// A per-parameter decay mask carries that, so a step is one adamw_step call over the whole buffer.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/ops.h"
#include "surrogate/buffer.h"
#include "surrogate/ops_table.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

struct AdamWConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  ///< on Linear weights only
  /// Global L2 gradient-norm limit (torch.nn.utils.clip_grad_norm_); infinity = no clipping.
  double clip_norm = std::numeric_limits<double>::infinity();
};

/// Global L2 norm of grads [n] before clipping; if above max_norm, scales grads by
/// max_norm / (norm + 1e-6), exactly as torch.nn.utils.clip_grad_norm_.
double clip_grad_norm(float* grads, std::int64_t n, double max_norm);

/// The optimizer state: moments in buffers of the parameter layout (in the op table's memory: host
/// for cpu, device for CUDA), and the step count.
class AdamW {
 public:
  /// `ops` supplies the memory and the sum_squares and adamw_step ops.
  AdamW(const ParamLayout& layout, AdamWConfig config, const OpTable<float>& ops = cpu_ops());

  /// One AdamW step on params with grads clipped to config.clip_norm (both in the table's memory;
  /// grads are read, not modified). `lr` and `beta1` override config.lr and config.beta1 for this
  /// step (schedules, OneCycle's cycle_momentum) when >= 0. As in torch, the bias correction
  /// 1 − β1^t uses this step's β1. Queues work only: no host synchronisation on a device.
  void step(float* params, const float* grads, float lr = -1.0f, float beta1 = -1.0f);

  /// The gradient norm of the last step, before clipping (waits for that step on a device).
  double last_grad_norm() const;

  /// Host copies of the moments (for checkpoints).
  std::vector<float> m() const { return m_m.to_host(m_n); }
  std::vector<float> v() const { return m_v.to_host(m_n); }
  std::int64_t steps_done() const { return m_step; }
  /// Restores state from a checkpoint.
  void set_state(std::vector<float> m, std::vector<float> v, std::int64_t steps_done);
  const AdamWConfig& config() const { return m_config; }

 private:
  AdamWConfig m_config;
  OpTable<float> m_ops;
  std::int64_t m_n = 0;
  Buffer<float> m_m, m_v;
  // 1 where a parameter decays (weights), 0 where not (biases, norms, latent queries): one
  // adamw_step over the whole buffer instead of one per tensor (the default model has 272
  // alternating runs; at 50k points their launches were a tenth of a GPU training step).
  Buffer<std::uint8_t> m_decay;
  Buffer<double> m_sumsq;  // Σ g² of the last step
  std::int64_t m_step = 0;
};

}  // namespace flare::surrogate
