// L = 0 (no FLARE blocks) is the pointwise MLP baseline of the model cards: it must be a valid
// config, see no other point of the mesh, and still train through the same backward pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "model_fixtures.h"
#include "surrogate/model.h"

using namespace flare::surrogate;
using namespace flare::surrogate::test_util;

namespace {
ModelConfig baseline_config() {
  ModelConfig c = tiny_config(0);
  c.num_blocks = 0;
  return c;
}
}  // namespace

TEST(PointwiseBaseline, ConfigAcceptsZeroBlocksButNotNegative) {
  ModelConfig c = baseline_config();
  EXPECT_NO_THROW(c.validate());
  c.num_blocks = -1;
  EXPECT_THROW(c.validate(), flare::InputError);
}

// Changing one point's features changes that point's output only: nothing mixes across points.
TEST(PointwiseBaseline, OutputOfAPointDependsOnlyOnItsOwnFeatures) {
  const ModelConfig c = baseline_config();
  const ParamLayout layout(c);
  const auto p = test_params<float>(layout, 3);
  const std::vector<std::int64_t> offsets = {0, 9};
  auto x = normal_vector<float>(9 * c.in_dim, 4);
  Model<float> model(layout, cpu_ops());
  std::vector<float> y0(9 * c.out_dim), y1(y0.size());
  model.infer(p.data(), x.data(), offsets.data(), 1, y0.data());
  for (int f = 0; f < c.in_dim; ++f) x[4 * c.in_dim + f] += 1.0f;
  model.infer(p.data(), x.data(), offsets.data(), 1, y1.data());
  for (int n = 0; n < 9; ++n)
    for (int t = 0; t < c.out_dim; ++t) {
      const float a = y0[n * c.out_dim + t], b = y1[n * c.out_dim + t];
      if (n == 4) EXPECT_GT(std::fabs(a - b), 1e-4f) << "the perturbed point must change";
      else EXPECT_EQ(a, b) << "point " << n << " saw point 4";
    }
}

// Its gradient (in double, central differences) is right for a few parameters of each tensor.
TEST(PointwiseBaseline, GradientMatchesFiniteDifferences) {
  const ModelConfig c = baseline_config();
  const ParamLayout layout(c);
  auto p = test_params<double>(layout, 5);
  const std::vector<std::int64_t> offsets = {0, 5, 11};
  const std::int64_t N = offsets.back();
  const auto x = normal_vector<double>(N * c.in_dim, 6);
  Model<double> model(layout, ref_ops_double());
  std::vector<double> y(N * c.out_dim), g(p.size(), 0.0);
  auto loss = [&] {
    model.forward(p.data(), x.data(), offsets.data(), 2, y.data());
    double s = 0;
    for (double v : y) s += v * v;
    return s;
  };
  loss();
  std::vector<double> dy(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) dy[i] = 2 * y[i];
  model.backward(p.data(), dy.data(), g.data());
  const double h = 1e-5;
  for (const auto& t : layout.tensors())
    for (std::int64_t i = 0; i < std::min<std::int64_t>(t.size, 3); ++i) {
      const std::int64_t j = t.offset + i * (t.size / 3 + 1) % t.size;
      const double old = p[j];
      p[j] = old + h;
      const double lp = loss();
      p[j] = old - h;
      const double lm = loss();
      p[j] = old;
      const double fd = (lp - lm) / (2 * h);
      EXPECT_NEAR(g[j], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << t.name << "[" << i << "]";
    }
}
