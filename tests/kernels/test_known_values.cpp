// Hand-computed values for both tiers: they pin down what finite differences and cpu ≈ ref cannot
// (both tiers could share a wrong definition): the GELU variant, biased variance, the [out, in]
// weight layout, and which axis each FLARE softmax normalises over.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"

namespace fk = flare::kernels;

namespace {
struct Tier {
  const char* name;
  decltype(&fk::ref::gelu_fwd) gelu;
  decltype(&fk::ref::layernorm_fwd) layernorm;
  decltype(&fk::ref::linear_fwd) linear;
  decltype(&fk::ref::flare_encode_fwd) encode;
  decltype(&fk::ref::flare_decode_fwd) decode;
};
const Tier kTiers[] = {
    {"ref", fk::ref::gelu_fwd, fk::ref::layernorm_fwd, fk::ref::linear_fwd,
     fk::ref::flare_encode_fwd, fk::ref::flare_decode_fwd},
    {"cpu", fk::cpu::gelu_fwd, fk::cpu::layernorm_fwd, fk::cpu::linear_fwd,
     fk::cpu::flare_encode_fwd, fk::cpu::flare_decode_fwd},
};
}  // namespace

// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) in double (Python math); the erf GELU differs in the
// 4th digit (0.841345 at x = 1), so a 1e-6 tolerance tells them apart.
TEST(KnownValues, GeluIsTheTanhApproximation) {
  const std::vector<float> x = {1.0f, -0.5f, 3.0f, -4.0f};
  const std::vector<double> want = {0.8411919906082768, -0.15428599017485606, 2.996362607918227,
                                    -7.024594819227126e-05};
  for (const Tier& t : kTiers) {
    std::vector<float> y(4);
    t.gelu(x.data(), y.data(), 4);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << t.name << " x = " << x[i];
  }
}

// x = [1, 2, 3]: biased variance 2/3, so y = ±√(3/2)·(1 − 1.5e-5) and mean 2 (unbiased would give
// ±1).
TEST(KnownValues, LayerNormUsesBiasedVariance) {
  const std::vector<float> x = {1, 2, 3}, gamma = {1, 1, 2}, beta = {0, 0.5f, 0};
  for (const Tier& t : kTiers) {
    std::vector<float> y(3), mean(1), rstd(1);
    t.layernorm(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), 1, 3,
                1e-5f);
    const double rs = 1.0 / std::sqrt(2.0 / 3.0 + 1e-5);
    EXPECT_NEAR(mean[0], 2.0, 1e-6) << t.name;
    EXPECT_NEAR(rstd[0], rs, 1e-6) << t.name;
    EXPECT_NEAR(y[0], -rs, 1e-6) << t.name;
    EXPECT_NEAR(y[1], 0.5, 1e-6) << t.name;
    EXPECT_NEAR(y[2], 2 * rs, 1e-6) << t.name;
  }
}

// W is [out, in] like torch.nn.Linear: W = [[1, 0], [0, 1], [1, 1]] maps x = [1, 2] to [1, 2, 3].
TEST(KnownValues, LinearWeightIsOutByIn) {
  const std::vector<float> x = {1, 2}, W = {1, 0, 0, 1, 1, 1}, b = {0, 0, 1};
  for (const Tier& t : kTiers) {
    std::vector<float> y(3);
    t.linear(x.data(), W.data(), b.data(), y.data(), 1, 2, 3);
    EXPECT_EQ(y, (std::vector<float>{1, 2, 4})) << t.name;
  }
}

// One mesh of 3 points, H = 1, D = 1, M = 2 latents q = [0, 1], keys k = [0, ln 2, ln 4].
// Encode normalises over the points: latent 0 sees scores [0, 0, 0] (uniform), latent 1 sees
// [0, ln 2, ln 4] (weights 1:2:4). Decode normalises over the latents: point n sees [0, k_n].
TEST(KnownValues, EncodeSoftmaxOverPointsDecodeSoftmaxOverLatents) {
  const std::vector<float> Q = {0, 1}, K = {0, std::log(2.0f), std::log(4.0f)}, V = {1, 2, 3};
  const std::vector<std::int64_t> off = {0, 3};
  for (const Tier& t : kTiers) {
    std::vector<float> Z(2), lse(2);
    t.encode(Q.data(), K.data(), V.data(), off.data(), 1, 1, 2, 1, 1.0f, Z.data(), lse.data());
    EXPECT_NEAR(Z[0], 2.0, 1e-6) << t.name;
    EXPECT_NEAR(Z[1], 17.0 / 7.0, 1e-6) << t.name;
    EXPECT_NEAR(lse[0], std::log(3.0), 1e-6) << t.name;
    EXPECT_NEAR(lse[1], std::log(7.0), 1e-6) << t.name;

    const std::vector<float> Zin = {10, 20};
    std::vector<float> Y(3), lse_d(3);
    t.decode(Q.data(), K.data(), Zin.data(), off.data(), 1, 1, 2, 1, 1.0f, Y.data(), lse_d.data());
    EXPECT_NEAR(Y[0], 15.0, 1e-5) << t.name;
    EXPECT_NEAR(Y[1], 50.0 / 3.0, 1e-5) << t.name;
    EXPECT_NEAR(Y[2], 18.0, 1e-5) << t.name;
    EXPECT_NEAR(lse_d[0], std::log(2.0), 1e-6) << t.name;
    EXPECT_NEAR(lse_d[2], std::log(5.0), 1e-6) << t.name;
  }
}

// The scale multiplies the scores: s = 0.5 with k = ln 4 is the same as s = 1 with k = ln 2.
TEST(KnownValues, ScaleMultipliesScores) {
  const std::vector<float> Q = {0, 1}, K = {std::log(4.0f)}, Zin = {10, 20};
  const std::vector<std::int64_t> off = {0, 1};
  for (const Tier& t : kTiers) {
    std::vector<float> Y(1), lse(1);
    t.decode(Q.data(), K.data(), Zin.data(), off.data(), 1, 1, 2, 1, 0.5f, Y.data(), lse.data());
    EXPECT_NEAR(Y[0], 50.0 / 3.0, 1e-5) << t.name;
  }
}
