#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "model_fixtures.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"

using namespace flare::surrogate;
using namespace flare::surrogate::test_util;

namespace {

// Σ(y − t)²/n in double, the loss of the double gradient check.
double mse(const std::vector<double>& y, const std::vector<double>& t) {
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += (y[i] - t[i]) * (y[i] - t[i]);
  return s / double(y.size());
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

}  // namespace

class ModelGradient : public ::testing::TestWithParam<int> {};

// The whole model in double (the ref loops instantiated for double) against central finite
// differences of the MSE loss, for every single parameter. With h = 1e-5 the truncation error is
// O(h²·f''') ≈ 1e-10 and the rounding error ≈ ε64·|loss|/h ≈ 1e-11, so a relative error above
// 1e-6 can only be a wrong gradient.
// Near-zero entries are judged against a floor of 1e-3 (gradients here are O(0.1..1)): below it
// the FD rounding noise (~1e-16/h per unit of loss, amplified by cancellation) dominates.
TEST_P(ModelGradient, EveryParameterMatchesFiniteDifferencesInDouble) {
  const ModelConfig c = tiny_config(GetParam());
  const ParamLayout layout(c);
  std::vector<double> p = test_params<double>(layout, 11 + GetParam());
  const std::vector<std::int64_t> offsets = {0, 7, 12};  // two meshes, different N
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<double>(N * c.in_dim, 5);
  const auto t = normal_vector<double>(N * c.out_dim, 6);
  Model<double> model(layout, ref_ops_double());
  std::vector<double> y(N * c.out_dim), dy(y.size()), g(p.size(), 0.0);
  model.forward(p.data(), x.data(), offsets.data(), 2, y.data());
  for (std::size_t i = 0; i < y.size(); ++i) dy[i] = 2.0 * (y[i] - t[i]) / double(y.size());
  model.backward(p.data(), dy.data(), g.data());

  double worst = 0;
  std::string worst_name;
  const double h = 1e-5;
  for (const auto& info : layout.tensors())
    for (std::int64_t i = 0; i < info.size; ++i) {
      const std::int64_t j = info.offset + i;
      const double old = p[j];
      p[j] = old + h;
      model.infer(p.data(), x.data(), offsets.data(), 2, y.data());
      const double lp = mse(y, t);
      p[j] = old - h;
      model.infer(p.data(), x.data(), offsets.data(), 2, y.data());
      const double lm = mse(y, t);
      p[j] = old;
      const double fd = (lp - lm) / (2 * h);
      const double err = std::fabs(fd - g[j]) / std::max(1e-3, std::fabs(fd) + std::fabs(g[j]));
      if (err > worst) {
        worst = err;
        worst_name = info.name + "[" + std::to_string(i) + "]";
      }
    }
  EXPECT_LT(worst, 1e-6) << "worst at " << worst_name;
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelGradient, ::testing::Values(0, 1, 2));

class ModelInvariance : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    config = tiny_config(GetParam());
    config.channel_dim = 16;
    config.num_heads = 4;
    config.num_latents = 5;
  }
  ModelConfig config;
};

TEST_P(ModelInvariance, PermutingPointsPermutesOutputs) {
  const ParamLayout layout(config);
  const auto p = test_params<float>(layout, 3);
  const int F = config.in_dim, T = config.out_dim;
  const std::vector<std::int64_t> offsets = {0, 40, 65};
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<float>(N * F, 9);
  // A permutation inside each mesh (points never move between meshes).
  std::vector<std::int64_t> perm(N);
  std::iota(perm.begin(), perm.end(), 0);
  std::reverse(perm.begin(), perm.begin() + 40);
  std::rotate(perm.begin() + 40, perm.begin() + 47, perm.end());
  std::vector<float> xp(x.size());
  for (std::int64_t n = 0; n < N; ++n)
    std::copy_n(&x[perm[n] * F], F, &xp[n * F]);
  Model<float> model(layout, cpu_ops());
  std::vector<float> y(N * T), yp(N * T);
  model.infer(p.data(), x.data(), offsets.data(), 2, y.data());
  model.infer(p.data(), xp.data(), offsets.data(), 2, yp.data());
  // Only the summation order inside the encode changes: fp32 rounding, scaled by the output size.
  const double tol = 1e-5 * std::max(1.0, max_abs(y));
  for (std::int64_t n = 0; n < N; ++n)
    for (int t = 0; t < T; ++t) EXPECT_NEAR(yp[n * T + t], y[perm[n] * T + t], tol) << n;
}

TEST_P(ModelInvariance, BatchEqualsMeshesOneByOne) {
  const ParamLayout layout(config);
  const auto p = test_params<float>(layout, 4);
  const int F = config.in_dim, T = config.out_dim;
  const std::vector<std::int64_t> offsets = {0, 33, 33, 51};  // includes an empty mesh
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<float>(N * F, 10);
  Model<float> model(layout, cpu_ops());
  std::vector<float> y(N * T);
  model.infer(p.data(), x.data(), offsets.data(), 3, y.data());
  for (int b = 0; b < 3; ++b) {
    const std::int64_t n0 = offsets[b], nb = offsets[b + 1] - n0;
    if (nb == 0) continue;
    const std::vector<std::int64_t> one = {0, nb};
    std::vector<float> yb(nb * T);
    model.infer(p.data(), x.data() + n0 * F, one.data(), 1, yb.data());
    for (std::int64_t i = 0; i < nb * T; ++i) EXPECT_NEAR(yb[i], y[n0 * T + i], 1e-6) << b << " " << i;
  }
}

TEST_P(ModelInvariance, InferenceEqualsTrainingForward) {
  const ParamLayout layout(config);
  const auto p = test_params<float>(layout, 5);
  const std::vector<std::int64_t> offsets = {0, 30, 47};
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<float>(N * config.in_dim, 11);
  Model<float> train(layout, cpu_ops()), infer(layout, cpu_ops());
  std::vector<float> y1(N * config.out_dim), y2(y1.size());
  train.forward(p.data(), x.data(), offsets.data(), 2, y1.data());
  infer.infer(p.data(), x.data(), offsets.data(), 2, y2.data());
  // Same ops on the same data in the same order: identical.
  EXPECT_EQ(y1, y2);
  EXPECT_LT(infer.buffer_bytes(), train.buffer_bytes());
}

// The production CPU tier against the oracle tier, forward and backward, and the fp32 model's
// gradient against the double model's. Tolerance: fp32 ε ≈ 6e-8 grows with the reduction lengths
// (ΣN = 60 points, C = 16) and the depth of the chain (~30 ops): 1e-4 relative to the largest
// entry of each buffer leaves ~50× margin over what is observed while catching any wrong term.
TEST_P(ModelInvariance, CpuTierMatchesRefTierAndDouble) {
  const ParamLayout layout(config);
  const auto p = test_params<float>(layout, 6);
  const auto pd = test_params<double>(layout, 6);
  const std::vector<std::int64_t> offsets = {0, 37, 60};
  const std::int64_t N = offsets.back();
  const int T = config.out_dim;
  const auto x = normal_vector<float>(N * config.in_dim, 12);
  const auto xd = normal_vector<double>(N * config.in_dim, 12);
  const auto t = normal_vector<float>(N * T, 13);
  Model<float> cpu(layout, cpu_ops()), ref(layout, ref_ops());
  Model<double> dbl(layout, ref_ops_double());
  std::vector<float> yc(N * T), yr(N * T), dyc(N * T), dyr(N * T);
  std::vector<double> yd(N * T), dyd(N * T);
  cpu.forward(p.data(), x.data(), offsets.data(), 2, yc.data());
  ref.forward(p.data(), x.data(), offsets.data(), 2, yr.data());
  dbl.forward(pd.data(), xd.data(), offsets.data(), 2, yd.data());
  mse_loss(yc.data(), t.data(), N * T, dyc.data());
  mse_loss(yr.data(), t.data(), N * T, dyr.data());
  for (std::int64_t i = 0; i < N * T; ++i) dyd[i] = 2.0 * (yd[i] - double(t[i])) / double(N * T);
  std::vector<float> gc(p.size(), 0.0f), gr(p.size(), 0.0f);
  std::vector<double> gd(p.size(), 0.0);
  cpu.backward(p.data(), dyc.data(), gc.data());
  ref.backward(p.data(), dyr.data(), gr.data());
  dbl.backward(pd.data(), dyd.data(), gd.data());
  const double ys = max_abs(yc);
  for (std::int64_t i = 0; i < N * T; ++i) {
    EXPECT_NEAR(yc[i], yr[i], 1e-4 * ys);
    EXPECT_NEAR(yc[i], yd[i], 1e-4 * ys);
  }
  for (const auto& info : layout.tensors()) {
    double scale = 0;
    for (std::int64_t i = 0; i < info.size; ++i) scale = std::max(scale, std::fabs(gd[info.offset + i]));
    scale = std::max(scale, 1e-6);
    for (std::int64_t i = 0; i < info.size; ++i) {
      const std::int64_t j = info.offset + i;
      ASSERT_NEAR(gc[j], gd[j], 1e-4 * scale) << info.name << "[" << i << "] cpu vs double";
      ASSERT_NEAR(gr[j], gd[j], 1e-4 * scale) << info.name << "[" << i << "] ref vs double";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelInvariance, ::testing::Values(0, 1, 2));

TEST(Model, BackwardWithoutTrainingForwardIsAnError) {
  const ModelConfig c = tiny_config(0);
  const ParamLayout layout(c);
  const auto p = test_params<float>(layout, 1);
  Model<float> model(layout, cpu_ops());
  std::vector<float> x(3 * c.in_dim, 0.5f), y(3 * c.out_dim), g(p.size());
  const std::vector<std::int64_t> offsets = {0, 3};
  model.infer(p.data(), x.data(), offsets.data(), 1, y.data());
  EXPECT_THROW(model.backward(p.data(), y.data(), g.data()), flare::Error);
}

// Per-block recomputation (activation checkpointing) gives the same outputs and gradients bit for
// bit with about L times less block activation memory.
TEST(Model, RecomputeGivesIdenticalGradientsWithLessMemory) {
  ModelConfig c = tiny_config(1);
  c.num_blocks = 4;
  const ParamLayout layout(c);
  const auto p = test_params<float>(layout, 21);
  const std::vector<std::int64_t> offsets = {0, 40, 97};
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<float>(N * c.in_dim, 22);
  const auto dy = normal_vector<float>(N * c.out_dim, 23);
  std::vector<float> y[2], g[2];
  std::int64_t bytes[2];
  for (int r = 0; r < 2; ++r) {
    Model<float> model(layout, cpu_ops());
    model.set_recompute(r == 1);
    y[r].assign(N * c.out_dim, 0.f);
    g[r].assign(p.size(), 0.f);
    model.forward(p.data(), x.data(), offsets.data(), 2, y[r].data());
    model.backward(p.data(), dy.data(), g[r].data());
    bytes[r] = model.buffer_bytes();
  }
  EXPECT_EQ(y[0], y[1]);
  EXPECT_EQ(g[0], g[1]);
  // 4 blocks of activations against 1 (plus the stream and gradient scratch both keep).
  EXPECT_LT(double(bytes[1]), 0.6 * double(bytes[0])) << bytes[1] << " vs " << bytes[0];
}
