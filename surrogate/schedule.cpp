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
}  // namespace

void validate(const ScheduleConfig& s) {
  FLARE_INPUT_CHECK(s.kind == "onecycle" || s.kind == "cosine" || s.kind == "constant",
                    "unknown learning-rate schedule '", s.kind,
                    "' (use onecycle, cosine or constant)");
  FLARE_INPUT_CHECK(s.lr > 0 && std::isfinite(s.lr), "learning rate must be positive, got ", s.lr);
  FLARE_INPUT_CHECK(s.total_steps >= 1, "the schedule needs at least one step");
  FLARE_INPUT_CHECK(s.pct_start > 0 && s.pct_start < 1, "--pct-start must be in (0, 1), got ",
                    s.pct_start);
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
  // OneCycleLR, two phases, as torch computes it (phase ends are float step indices).
  const double initial = s.lr / s.div_factor;
  const double final_lr = initial / s.final_div_factor;
  const double end1 = s.pct_start * double(s.total_steps) - 1.0;
  const double end2 = double(s.total_steps) - 1.0;
  if (double(step) <= end1 || end1 <= 0) {
    if (end1 <= 0) return s.lr;
    return annealing_cos(initial, s.lr, double(step) / end1);
  }
  return annealing_cos(s.lr, final_lr, (double(step) - end1) / (end2 - end1));
}

}  // namespace flare::surrogate
