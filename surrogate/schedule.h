// Learning-rate schedules, step-indexed (step 0 is the first optimizer step), matching PyTorch so
// runs are comparable with the reference implementation:
//   onecycle  torch.optim.lr_scheduler.OneCycleLR (cosine annealing, two phases, defaults
//             pct_start 0.3, div_factor 25, final_div_factor 1e4), optionally with its
//             cycle_momentum: β1 annealed max_momentum → base_momentum while the lr rises and back
//             while it falls
//   cosine    warmup (linear from 0) then cosine decay to min_lr (timm / llm.c style)
//   constant  lr
#pragma once

#include <cstdint>
#include <string>

namespace flare::surrogate {

struct ScheduleConfig {
  std::string kind = "onecycle";  ///< onecycle | cosine | constant
  double lr = 1e-3;               ///< peak learning rate
  std::int64_t total_steps = 1;
  double pct_start = 0.3;         ///< onecycle: fraction of steps spent increasing
  double div_factor = 25;         ///< onecycle: initial lr = lr / div_factor
  double final_div_factor = 1e4;  ///< onecycle: final lr = initial lr / final_div_factor
  /// onecycle: cycle AdamW's β1 inversely to the lr (torch's cycle_momentum; off keeps β1 fixed).
  bool cycle_momentum = false;
  double base_momentum = 0.85;    ///< onecycle: β1 at the peak lr
  double max_momentum = 0.95;     ///< onecycle: β1 at the start and the end
  std::int64_t warmup_steps = 0;  ///< cosine
  double min_lr = 0;              ///< cosine
};

/// Throws InputError for an unknown kind or inconsistent numbers.
void validate(const ScheduleConfig& s);

/// Learning rate for optimizer step `step` (0-based).
double learning_rate(const ScheduleConfig& s, std::int64_t step);

/// AdamW β1 for optimizer step `step` when s.cycle_momentum (onecycle); `fixed` otherwise.
double momentum(const ScheduleConfig& s, std::int64_t step, double fixed);

}  // namespace flare::surrogate
