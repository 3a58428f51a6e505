// Schedules against torch.optim.lr_scheduler.OneCycleLR (closed forms, and values of a line-by-line
// Python transcription of its get_lr: torch is not installed here) and closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "surrogate/schedule.h"

using flare::surrogate::learning_rate;
using flare::surrogate::momentum;
using flare::surrogate::ScheduleConfig;

TEST(Schedule, OneCycleMatchesTorch) {
  ScheduleConfig s;
  s.lr = 1e-3;
  s.total_steps = 100;
  EXPECT_NEAR(learning_rate(s, 0), 4e-5, 1e-12);    // max_lr / div_factor
  EXPECT_NEAR(learning_rate(s, 29), 1e-3, 1e-12);   // peak at pct_start·total − 1
  EXPECT_NEAR(learning_rate(s, 99), 4e-9, 1e-15);   // initial / final_div_factor
  // Midpoint of phase 1 (step 14.5 of 29) is halfway between initial and peak on the cosine.
  double mid = learning_rate(s, 14);
  EXPECT_GT(mid, 4e-5);
  EXPECT_LT(mid, 1e-3);
  // torch: OneCycleLR(max_lr=1e-3, total_steps=100) lr at step 64 = 0.0005031...
  double pct = (64 - 29.0) / (99 - 29.0);
  double expect = 4e-9 + (1e-3 - 4e-9) / 2 * (std::cos(M_PI * pct) + 1);
  EXPECT_NEAR(learning_rate(s, 64), expect, 1e-15);
  EXPECT_NEAR(learning_rate(s, 64), 5.0e-4, 3e-5);
}

TEST(Schedule, OneCycleIsMonotoneInEachPhase) {
  ScheduleConfig s;
  s.total_steps = 1000;
  for (int i = 1; i <= 299; ++i) EXPECT_GE(learning_rate(s, i), learning_rate(s, i - 1)) << i;
  for (int i = 300; i < 1000; ++i) EXPECT_LE(learning_rate(s, i), learning_rate(s, i - 1)) << i;
}

TEST(Schedule, CosineWarmupThenDecay) {
  ScheduleConfig s;
  s.kind = "cosine";
  s.lr = 1.0;
  s.total_steps = 110;
  s.warmup_steps = 10;
  s.min_lr = 0.1;
  EXPECT_NEAR(learning_rate(s, 0), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 9), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(s, 10), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(s, 109), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 10 + 99 / 2.0), 0.55, 0.02);
}

TEST(Schedule, ConstantAndValidation) {
  ScheduleConfig s;
  s.kind = "constant";
  s.lr = 3e-4;
  EXPECT_EQ(learning_rate(s, 12345), 3e-4);
  s.kind = "linear";
  EXPECT_THROW(validate(s), flare::InputError);
  s.kind = "onecycle";
  s.lr = -1;
  EXPECT_THROW(validate(s), flare::InputError);
}

// The reference recipe's OneCycle (FLARE.py: pct_start 0.1, div_factor 1e4, final_div_factor 1e4,
// cycle_momentum with β1 0.95 → 0.85 → 0.95). Expected values come from the closed form written
// out here, and the literals from a line-by-line Python transcription of OneCycleLR.get_lr
// (torch/optim/lr_scheduler.py, two phases, 'cos'), run with the same arguments.
namespace {
double anneal(double start, double end, double pct) {
  return end + (start - end) / 2 * (std::cos(M_PI * pct) + 1);
}
ScheduleConfig reference_schedule(std::int64_t total) {
  ScheduleConfig s;
  s.lr = 1e-3;
  s.total_steps = total;
  s.pct_start = 0.1;
  s.div_factor = 1e4;
  s.final_div_factor = 1e4;
  s.cycle_momentum = true;
  return s;
}
}  // namespace

TEST(Schedule, ReferenceOneCycleLrAndMomentumMatchTorch) {
  const ScheduleConfig s = reference_schedule(100);
  const double initial = 1e-3 / 1e4, final_lr = initial / 1e4, end1 = 0.1 * 100 - 1, end2 = 99;
  for (std::int64_t k : {0, 1, 4, 8, 9, 10, 37, 64, 98, 99}) {
    const bool up = double(k) <= end1;
    const double pct = up ? k / end1 : (k - end1) / (end2 - end1);
    const double lr = up ? anneal(initial, 1e-3, pct) : anneal(1e-3, final_lr, pct);
    const double beta1 = up ? anneal(0.95, 0.85, pct) : anneal(0.85, 0.95, pct);
    EXPECT_NEAR(learning_rate(s, k), lr, 1e-15) << k;
    EXPECT_NEAR(momentum(s, k, 0.9), beta1, 1e-15) << k;
  }
  // torch (transcribed get_lr): lr, beta1 at steps 0, 4, 9, 10, 37, 99.
  const struct {
    std::int64_t step;
    double lr, beta1;
  } torch[] = {{0, 1.0000000000005664e-07, 0.95},
               {4, 0.00041323459357541815, 0.9086824088833465},
               {9, 0.001, 0.85},
               {10, 0.0009996954135125938, 0.8500304586490451},
               {37, 0.0007795964539394089, 0.8720403548264626},
               {99, 1e-11, 0.95}};
  for (const auto& t : torch) {
    EXPECT_NEAR(learning_rate(s, t.step), t.lr, 1e-12 * t.lr) << t.step;
    EXPECT_NEAR(momentum(s, t.step, 0.9), t.beta1, 1e-15) << t.step;
  }
}

// Fewer steps than 1/pct_start: torch skips the rising phase (its end, pct·total − 1, is < 0) and
// anneals down from the peak starting at that negative step. Values from the same transcription.
TEST(Schedule, OneCycleShorterThanItsRisingPhaseFollowsTorch) {
  const ScheduleConfig s = reference_schedule(5);
  const double lr[] = {0.0009698463106944911, 0.0007500000025, 0.00041317591703477575,
                       0.00011697778727073327, 1e-11};
  const double beta1[] = {0.8530153689607045, 0.875, 0.9086824088833465, 0.9383022221559488, 0.95};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(learning_rate(s, k), lr[k], 1e-12 * lr[k]) << k;
    EXPECT_NEAR(momentum(s, k, 0.9), beta1[k], 1e-15) << k;
  }
  // pct·total − 1 = 0 exactly is 0/0 in torch; step 0 is then the peak, with β1 at its base.
  ScheduleConfig z = reference_schedule(10);
  EXPECT_EQ(learning_rate(z, 0), 1e-3);
  EXPECT_EQ(momentum(z, 0, 0.9), 0.85);
  EXPECT_NEAR(learning_rate(z, 9), 1e-11, 1e-24);
}

TEST(Schedule, DefaultOneCycleAtOtherSettingsMatchesTorch) {
  ScheduleConfig s;  // pct 0.3, div 25, final 1e4 (the defaults), cycling on
  s.lr = 2e-3;
  s.total_steps = 250;
  s.cycle_momentum = true;
  const struct {
    std::int64_t step;
    double lr, beta1;
  } torch[] = {{0, 7.999999999999999e-05, 0.95},
               {30, 0.0007588901395745118, 0.9146411385638274},
               {74, 0.002, 0.85},
               {75, 0.0019998388685735866, 0.8500080566035471},
               {200, 0.00036258255994726924, 0.9318711994874345},
               {249, 8e-09, 0.95}};
  for (const auto& t : torch) {
    EXPECT_NEAR(learning_rate(s, t.step), t.lr, 1e-12 * t.lr) << t.step;
    EXPECT_NEAR(momentum(s, t.step, 0.9), t.beta1, 1e-15) << t.step;
  }
}

TEST(Schedule, MomentumIsFixedUnlessCycled) {
  ScheduleConfig s = reference_schedule(100);
  s.cycle_momentum = false;
  for (std::int64_t k : {0, 9, 50, 99}) EXPECT_EQ(momentum(s, k, 0.9), 0.9);
  s.cycle_momentum = true;
  s.kind = "cosine";
  EXPECT_THROW(validate(s), flare::InputError);  // cycling needs onecycle
}

TEST(Schedule, OneCycleOptionsAreValidated) {
  for (auto bad : std::initializer_list<void (*)(ScheduleConfig&)>{
           [](ScheduleConfig& s) { s.pct_start = 0; },
           [](ScheduleConfig& s) { s.pct_start = 1; },
           [](ScheduleConfig& s) { s.div_factor = 0; },
           [](ScheduleConfig& s) { s.final_div_factor = -1; },
           [](ScheduleConfig& s) { s.final_div_factor = INFINITY; },
           [](ScheduleConfig& s) { s.base_momentum = 0.97; },  // above max_momentum
           [](ScheduleConfig& s) { s.max_momentum = 1.0; }}) {
    ScheduleConfig s = reference_schedule(100);
    validate(s);
    bad(s);
    EXPECT_THROW(validate(s), flare::InputError);
  }
}
