// Schedules against the closed forms of torch.optim.lr_scheduler.OneCycleLR (torch 2.x,
// max_lr=1e-3, total_steps=100, defaults) and closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "surrogate/schedule.h"

using flare::surrogate::learning_rate;
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
