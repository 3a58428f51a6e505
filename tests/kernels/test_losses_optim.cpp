// cpu ≈ ref for the losses (mse, rel_l2 plain and denormalised), sum_squares, scale_inplace, the
// AdamW step and the weight average, plus the AdamW and average semantics themselves against
// hand-computed torch values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "kernels/ops.h"
#include "tests/kernels/compare.h"

namespace ref = flare::kernels::ref;
namespace cpu = flare::kernels::cpu;
using flare::test::all_close;
using flare::test::kEps32;
using flare::test::max_abs;
using flare::test::randn;
using Vec = std::vector<float>;

class ReductionTest : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ReductionTest, MseMatchesRef) {
  const std::int64_t n = GetParam();
  const Vec p = randn(n, 1), t = randn(n, 2);
  const double l_ref = ref::mse_fwd(p.data(), t.data(), n),
               l_cpu = cpu::mse_fwd(p.data(), t.data(), n);
  EXPECT_NEAR(l_cpu, l_ref, 1e-12 * l_ref);  // both accumulate in double
  Vec g_ref = randn(n, 3), g_cpu = g_ref;
  ref::mse_bwd(p.data(), t.data(), n, 0.5f, g_ref.data());
  cpu::mse_bwd(p.data(), t.data(), n, 0.5f, g_cpu.data());
  EXPECT_TRUE(all_close("dpred", g_cpu, g_ref, 4 * kEps32 * max_abs(g_ref), 4 * kEps32));
}

TEST_P(ReductionTest, SumSquaresAndScaleMatchRef) {
  const std::int64_t n = GetParam();
  Vec x = randn(n, 4);
  const double s_ref = ref::sum_squares(x.data(), n), s_cpu = cpu::sum_squares(x.data(), n);
  EXPECT_NEAR(s_cpu, s_ref, 1e-12 * s_ref);
  Vec y = x;
  ref::scale_inplace(x.data(), 0.37f, n);
  cpu::scale_inplace(y.data(), 0.37f, n);
  EXPECT_TRUE(all_close("scale", y, x, 0.0, 0.0));
}

TEST_P(ReductionTest, AdamWMatchesRef) {
  const std::int64_t n = GetParam();
  const Vec g = randn(n, 5);
  Vec p_ref = randn(n, 6), m_ref = randn(n, 7, 0.1), v_ref(n);
  for (std::int64_t i = 0; i < n; ++i) v_ref[i] = 0.01f * float(i % 7);
  Vec p_cpu = p_ref, m_cpu = m_ref, v_cpu = v_ref;
  flare::kernels::AdamW hp;
  hp.lr = 3e-3f;
  hp.weight_decay = 0.05f;
  for (std::int64_t step = 1; step <= 3; ++step) {
    hp.step = step;
    ref::adamw_step(p_ref.data(), g.data(), m_ref.data(), v_ref.data(), n, hp);
    cpu::adamw_step(p_cpu.data(), g.data(), m_cpu.data(), v_cpu.data(), n, hp);
  }
  // Each update is at most ~lr in size; fp32 rounding of the update terms is relative to that.
  EXPECT_TRUE(all_close("params", p_cpu, p_ref, 16 * kEps32 * (max_abs(p_ref) + hp.lr), 0.0));
  EXPECT_TRUE(all_close("m", m_cpu, m_ref, 8 * kEps32 * max_abs(m_ref), 0.0));
  EXPECT_TRUE(all_close("v", v_cpu, v_ref, 8 * kEps32 * max_abs(v_ref), 0.0));
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReductionTest, ::testing::Values(1, 33, 70001));

// torch.optim.AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5), p = 1, g = 2, step 1:
//   p ← 1·(1 − 0.05) = 0.95; m = 0.2, v = 0.004; m̂ = 2, v̂ = 4; p ← 0.95 − 0.1·2/(2 + 1e-8) = 0.85.
// Step 2 with g = −1: p ← 0.85·0.95 = 0.8075; m = 0.18 − 0.1 = 0.08, v = 0.003996 + 0.001 =
// 0.004996;
//   m̂ = 0.08/0.19, v̂ = 0.004996/0.001999; p ← 0.8075 − 0.1·m̂/(√v̂ + 1e-8).
TEST(AdamW, FollowsTorchSemantics) {
  for (auto* step_fn : {&ref::adamw_step, &cpu::adamw_step}) {
    float p = 1.0f, g = 2.0f, m = 0.0f, v = 0.0f;
    flare::kernels::AdamW hp{0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1};
    step_fn(&p, &g, &m, &v, 1, hp);
    EXPECT_NEAR(p, 0.85, 1e-6);
    EXPECT_NEAR(m, 0.2, 1e-7);
    EXPECT_NEAR(v, 0.004, 1e-7);  // 1 − 0.999f is 0.004 only to fp32 precision
    g = -1.0f;
    hp.step = 2;
    step_fn(&p, &g, &m, &v, 1, hp);
    const double mh = 0.08 / 0.19, vh = 0.004996 / (1.0 - 0.999 * 0.999);
    EXPECT_NEAR(p, 0.8075 - 0.1 * mh / (std::sqrt(vh) + 1e-8), 1e-6);
  }
}

// decay_mask: one call over a buffer of decayed and undecayed runs gives, bit for bit, what one
// call per run (weight_decay 0 on the undecayed ones) gives; an ignored mask would decay them all.
TEST(AdamW, DecayMaskEqualsOneCallPerRun) {
  const std::int64_t n = 1000;
  const Vec g = randn(n, 11);
  std::vector<std::uint8_t> mask(n);
  for (std::int64_t i = 0; i < n; ++i) mask[i] = (i / 64) % 3 != 0;  // runs of 64
  for (auto* step_fn : {&ref::adamw_step, &cpu::adamw_step}) {
    Vec p1 = randn(n, 12), m1 = randn(n, 13, 0.1), v1(n, 0.01f);
    Vec p2 = p1, m2 = m1, v2 = v1;
    flare::kernels::AdamW hp;
    hp.lr = 0.01f;
    hp.weight_decay = 0.3f;
    hp.step = 2;
    flare::kernels::AdamW masked = hp;
    masked.decay_mask = mask.data();
    step_fn(p1.data(), g.data(), m1.data(), v1.data(), n, masked);
    for (std::int64_t i = 0; i < n; i += 64) {
      flare::kernels::AdamW run = hp;
      run.weight_decay = mask[i] ? hp.weight_decay : 0.0f;
      const std::int64_t len = std::min<std::int64_t>(64, n - i);
      step_fn(p2.data() + i, g.data() + i, m2.data() + i, v2.data() + i, len, run);
    }
    EXPECT_EQ(p1, p2);
    EXPECT_EQ(m1, m2);
    EXPECT_EQ(v1, v2);
  }
}

TEST(AdamW, RejectsStepZero) {
  float p = 1.0f, g = 1.0f, m = 0.0f, v = 0.0f;
  flare::kernels::AdamW hp;
  hp.step = 0;
  EXPECT_THROW(ref::adamw_step(&p, &g, &m, &v, 1, hp), flare::Error);
  EXPECT_THROW(cpu::adamw_step(&p, &g, &m, &v, 1, hp), flare::Error);
}

TEST(RelL2, MatchesRefPerMeshIncludingOnePointMesh) {
  const int B = 3, T = 3;
  const std::vector<std::int64_t> off = {0, 1, 20001, 20400};
  const std::int64_t n = off[B] * T;
  const Vec p = randn(n, 8), t = randn(n, 9);
  std::vector<double> e_ref(B), e_cpu(B);
  ref::rel_l2_fwd(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, e_ref.data());
  cpu::rel_l2_fwd(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, e_cpu.data());
  EXPECT_TRUE(all_close("err", e_cpu, e_ref, 0.0, 1e-12));
  // err of the one-point mesh by hand.
  double ee = 0, tt = 0;
  for (int c = 0; c < T; ++c) {
    const double e = double(p[c]) - double(t[c]);
    ee += e * e;
    tt += double(t[c]) * double(t[c]);
  }
  EXPECT_NEAR(e_ref[0], std::sqrt(ee / tt), 1e-12);
  Vec g_ref = randn(n, 10), g_cpu = g_ref;
  ref::rel_l2_bwd(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, 2.0f, g_ref.data());
  cpu::rel_l2_bwd(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, 2.0f, g_cpu.data());
  EXPECT_TRUE(all_close("dpred", g_cpu, g_ref, 4 * kEps32 * max_abs(g_ref), 4 * kEps32));
}

// The denormalised loss (train --loss rel_l2) is the plain relative L2 of explicitly denormalised
// copies y = s·t + μ, and cpu matches ref on a mesh above the OpenMP threshold.
TEST(RelL2, DenormalisedEqualsPlainOnDenormalisedCopies) {
  const int B = 2, T = 3;
  const std::vector<std::int64_t> off = {0, 30000, 30007};
  const std::int64_t n = off[B] * T;
  const Vec p = randn(n, 21), t = randn(n, 22);
  const Vec s = {0.5f, 3.0f, 0.01f}, mu = {1.0f, -2.0f, 0.05f};
  Vec pd(n), td(n);
  for (std::int64_t i = 0; i < n; ++i) {
    pd[i] = s[i % T] * p[i] + mu[i % T];
    td[i] = s[i % T] * t[i] + mu[i % T];
  }
  std::vector<double> e_plain(B), e_ref(B), e_cpu(B);
  ref::rel_l2_fwd(pd.data(), td.data(), off.data(), B, T, nullptr, nullptr, e_plain.data());
  ref::rel_l2_fwd(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), e_ref.data());
  cpu::rel_l2_fwd(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), e_cpu.data());
  // The copies carry fp32 rounding of s·p + μ; the op computes s·(p − t) without it.
  EXPECT_TRUE(all_close("err vs copies", e_ref, e_plain, 0.0, 1e-5));
  EXPECT_TRUE(all_close("err cpu", e_cpu, e_ref, 0.0, 1e-12));
  EXPECT_GT(std::fabs(e_ref[0] -
                      [&] {
                        std::vector<double> e(B);
                        ref::rel_l2_fwd(p.data(), t.data(), off.data(), B, T, nullptr, nullptr,
                                        e.data());
                        return e[0];
                      }()),
            1e-2);  // the normalised loss is another number: the denormalisation is not a no-op
  // Gradient w.r.t. the normalised prediction = s · (gradient w.r.t. the denormalised one).
  Vec g_plain(n, 0.0f), g_ref(n, 0.0f), g_cpu(n, 0.0f);
  ref::rel_l2_bwd(pd.data(), td.data(), off.data(), B, T, nullptr, nullptr, 1.5f, g_plain.data());
  for (std::int64_t i = 0; i < n; ++i) g_plain[i] *= s[i % T];
  ref::rel_l2_bwd(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), 1.5f, g_ref.data());
  cpu::rel_l2_bwd(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), 1.5f, g_cpu.data());
  EXPECT_TRUE(all_close("dpred vs copies", g_ref, g_plain, 1e-5 * max_abs(g_ref), 1e-4));
  EXPECT_TRUE(all_close("dpred cpu", g_cpu, g_ref, 4 * kEps32 * max_abs(g_ref), 4 * kEps32));
}

// FLARE.py's EMA: shadow ← (1 − d)·p + d·shadow. By hand: shadow 1, p 3, d 0.75 → 1.5 → 1.875.
TEST(Ema, FollowsTheReferenceUpdateAndCpuMatchesRef) {
  for (auto* ema_fn : {&ref::ema_update, &cpu::ema_update}) {
    float e = 1.0f;
    const float p = 3.0f;
    ema_fn(&e, &p, 1, 0.75);
    EXPECT_EQ(e, 1.5f);
    ema_fn(&e, &p, 1, 0.75);
    EXPECT_EQ(e, 1.875f);
  }
  const std::int64_t n = 70001;
  Vec e_ref = randn(n, 31), e_cpu = e_ref;
  for (int k = 0; k < 3; ++k) {
    const Vec p = randn(n, 32 + k);
    ref::ema_update(e_ref.data(), p.data(), n, 0.999);
    cpu::ema_update(e_cpu.data(), p.data(), n, 0.999);
  }
  EXPECT_TRUE(all_close("ema", e_cpu, e_ref, 4 * kEps32 * max_abs(e_ref), 0.0));
}

TEST(Mse, RejectsEmptyInput) {
  const float x = 0.0f;
  EXPECT_THROW(ref::mse_fwd(&x, &x, 0), flare::Error);
  EXPECT_THROW(cpu::mse_fwd(&x, &x, 0), flare::Error);
}
