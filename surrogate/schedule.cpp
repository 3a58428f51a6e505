#include "surrogate/schedule.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace flare::surrogate {

namespace {
// torch's _annealing_cos: from start (pct = 0) to end (pct = 1) along half a cosine.
double annealing_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1.0);
}

// OneCycleLR's two phases as torch computes them (phase ends are float step indices): phase 1
// runs from step 0 to end1 = pct_start·total − 1, phase 2 from end1 to total − 1. Returns the
// phase (0 or 1) and the fraction of it done at `step`.
struct Phase {
  int index;
  double pct;
};
Phase onecycle_phase(const ScheduleConfig& s, std::int64_t step) {
  const double end1 = s.pct_start * double(s.total_steps) - 1.0;
  const double end2 = double(s.total_steps) - 1.0;
  // end1 < 0 (fewer than 1/pct_start steps): torch skips phase 1 and starts phase 2 at end1.
  // end1 = 0 at step 0 is 0/0 in torch (ZeroDivisionError); we take the end of phase 1 (the peak).
  if (end1 == 0.0 && step == 0) return {0, 1.0};
  if (double(step) <= end1) return {0, double(step) / end1};
  return {1, (double(step) - end1) / (end2 - end1)};
}
}  // namespace

void validate(const ScheduleConfig& s) {
  FLARE_INPUT_CHECK(s.kind == "onecycle" || s.kind == "cosine" || s.kind == "constant",
                    "unknown learning-rate schedule '", s.kind,
                    "' (use onecycle, cosine or constant)");
  FLARE_INPUT_CHECK(s.lr > 0 && std::isfinite(s.lr), "learning rate must be positive, got ", s.lr);
  FLARE_INPUT_CHECK(s.total_steps >= 1, "the schedule needs at least one step");
  FLARE_INPUT_CHECK(s.pct_start > 0 && s.pct_start < 1, "--pct-start must be in (0, 1), got ",
                    s.pct_start);
  FLARE_INPUT_CHECK(s.div_factor > 0 && std::isfinite(s.div_factor),
                    "--div-factor must be positive (initial lr = lr / div-factor), got ",
                    s.div_factor);
  FLARE_INPUT_CHECK(s.final_div_factor > 0 && std::isfinite(s.final_div_factor),
                    "--final-div-factor must be positive (final lr = initial lr / "
                    "final-div-factor), got ",
                    s.final_div_factor);
  FLARE_INPUT_CHECK(!s.cycle_momentum || s.kind == "onecycle",
                    "--cycle-momentum cycles beta1 with the OneCycle learning rate; it needs "
                    "--schedule onecycle (got '",
                    s.kind, "')");
  FLARE_INPUT_CHECK(s.base_momentum > 0 && s.base_momentum < 1 && s.max_momentum > 0 &&
                        s.max_momentum < 1 && s.base_momentum <= s.max_momentum,
                    "--base-momentum and --max-momentum must lie in (0, 1) with base <= max, got ",
                    s.base_momentum, " and ", s.max_momentum);
  FLARE_INPUT_CHECK(s.warmup_steps >= 0 && s.min_lr >= 0 && s.min_lr <= s.lr,
                    "cosine schedule: need warmup >= 0 and 0 <= min_lr <= lr");
}

double learning_rate(const ScheduleConfig& s, std::int64_t step) {
  step = std::clamp<std::int64_t>(step, 0, s.total_steps - 1);
  if (s.kind == "constant") return s.lr;
  if (s.kind == "cosine") {
    if (step < s.warmup_steps) return s.lr * double(step + 1) / double(s.warmup_steps);
    std::int64_t decay = s.total_steps - s.warmup_steps;
    double pct = decay > 1 ? double(step - s.warmup_steps) / double(decay - 1) : 1.0;
    return annealing_cos(s.lr, s.min_lr, pct);
  }
  const double initial = s.lr / s.div_factor;
  const double final_lr = initial / s.final_div_factor;
  const Phase p = onecycle_phase(s, step);
  return p.index == 0 ? annealing_cos(initial, s.lr, p.pct) : annealing_cos(s.lr, final_lr, p.pct);
}

double momentum(const ScheduleConfig& s, std::int64_t step, double fixed) {
  if (!s.cycle_momentum || s.kind != "onecycle") return fixed;
  step = std::clamp<std::int64_t>(step, 0, s.total_steps - 1);
  const Phase p = onecycle_phase(s, step);
  return p.index == 0 ? annealing_cos(s.max_momentum, s.base_momentum, p.pct)
                      : annealing_cos(s.base_momentum, s.max_momentum, p.pct);
}

}  // namespace flare::surrogate
