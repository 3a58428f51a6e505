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
