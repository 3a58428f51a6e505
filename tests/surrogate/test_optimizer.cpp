#include <gtest/gtest.h>

#include <cmath>

#include "model_fixtures.h"
#include "surrogate/optimizer.h"

using namespace flare::surrogate;

TEST(ClipGradNorm, ScalesOnlyAboveTheLimitAsTorch) {
  std::vector<float> g = {3.0f, 4.0f};  // norm 5
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 10.0), 5.0);
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_NEAR(clip_grad_norm(g.data(), 2, 1.0), 5.0, 1e-6);
  const double coef = 1.0 / (5.0 + 1e-6);  // torch: max_norm / (norm + 1e-6)
  EXPECT_NEAR(g[0], 3.0 * coef, 1e-7);
  EXPECT_NEAR(g[1], 4.0 * coef, 1e-7);
  std::vector<float> h = {3.0f, 4.0f};
  clip_grad_norm(h.data(), 2, std::numeric_limits<double>::infinity());
  EXPECT_EQ(h[0], 3.0f);
}

TEST(AdamW, DecaysLinearWeightsOnly) {
  const ModelConfig c = test_util::tiny_config(1);
  const ParamLayout layout(c);
  auto p = test_util::test_params<float>(layout, 1);
  const auto p0 = p;
  std::vector<float> g(p.size(), 0.0f);  // zero gradient: only weight decay moves parameters
  AdamWConfig hp;
  hp.lr = 0.1f;
  hp.weight_decay = 0.5f;
  AdamW opt(layout, hp);
  opt.step(p.data(), g.data());
  EXPECT_EQ(opt.steps_done(), 1);
  for (const auto& t : layout.tensors())
    for (std::int64_t i = 0; i < t.size; ++i) {
      const float expect = t.decay ? p0[t.offset + i] * (1.0f - 0.05f) : p0[t.offset + i];
      ASSERT_NEAR(p[t.offset + i], expect, 1e-6f * std::fabs(expect) + 1e-12f) << t.name;
    }
}

TEST(AdamW, FirstStepMovesByLrAgainstTheGradient) {
  const ModelConfig c = test_util::tiny_config(0);
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 1.0f), g(layout.size());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = (i % 2 ? 1.0f : -2.0f);
  AdamWConfig hp;
  hp.lr = 0.01f;
  AdamW opt(layout, hp);
  opt.step(p.data(), g.data());
  // Bias-corrected first step: m̂/√v̂ = sign(g).
  for (std::size_t i = 0; i < p.size(); ++i) ASSERT_NEAR(p[i], i % 2 ? 0.99f : 1.01f, 1e-6f);
}

// OneCycle's cycle_momentum sets β1 per step; torch's AdamW then uses that step's β1 in the moment
// update and in the bias correction 1 − β1^t. Two steps, β1 0.95 then 0.85, g = 2 then −1, by hand
// in double (wd 0, lr 0.1, β2 0.999, eps 1e-8).
TEST(AdamW, PerStepBeta1FollowsTorch) {
  const ModelConfig c = test_util::tiny_config(0);
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 1.0f), g(layout.size(), 2.0f);
  AdamWConfig hp;
  hp.lr = 0.1f;
  AdamW opt(layout, hp);
  opt.step(p.data(), g.data(), -1.0f, 0.95f);
  double m = 0.05 * 2, v = 0.001 * 4, x = 1.0;
  x -= 0.1 / (1 - 0.95) * m / (std::sqrt(v / (1 - 0.999)) + 1e-8);
  EXPECT_NEAR(p[0], x, 1e-6);
  std::fill(g.begin(), g.end(), -1.0f);
  opt.step(p.data(), g.data(), 0.05f, 0.85f);
  m = 0.85 * m + 0.15 * -1.0;
  v = 0.999 * v + 0.001 * 1.0;
  x -= 0.05 / (1 - 0.85 * 0.85) * m / (std::sqrt(v / (1 - 0.999 * 0.999)) + 1e-8);
  EXPECT_NEAR(p[0], x, 1e-6);
  EXPECT_NEAR(opt.m()[0], m, 1e-7);
  // The same two steps at the fixed β1 = 0.9 land elsewhere: the override is not ignored.
  std::vector<float> q(layout.size(), 1.0f);
  AdamW fixed(layout, hp);
  std::fill(g.begin(), g.end(), 2.0f);
  fixed.step(q.data(), g.data());
  std::fill(g.begin(), g.end(), -1.0f);
  fixed.step(q.data(), g.data(), 0.05f);
  EXPECT_GT(std::fabs(q[0] - p[0]), 1e-3);
}
