// Every ref backward against central finite differences of its ref forward, all in double.
//
// For an op y = f(x) and a random upstream gradient w, the scalar L(x) = Σ w·f(x) has dL/dx equal
// to what the op's backward adds to dx when called with dy = w. Gradient buffers start from random
// values g0 and the test checks (g − g0), so it also checks that backward accumulates (+=).
// Central differences with h = 1e-6·max(1,|x|) have truncation error ~h² and rounding error
// ~1e-16·|L|/h ≈ 1e-9 here, so 1e-6 (abs + rel) separates a correct gradient from a wrong one.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kernels/ref/flare_decode.h"
#include "kernels/ref/flare_encode.h"
#include "kernels/ref/gelu.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/linear.h"
#include "kernels/ref/mse.h"
#include "kernels/ref/rel_l2.h"
#include "tests/kernels/compare.h"

namespace impl = flare::kernels::ref::impl;
using flare::test::randn;
using Vec = std::vector<double>;

namespace {

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

/// Checks `analytic` (= g − g0) against central differences of `loss` w.r.t. x at ≤ 80 indices.
void expect_fd(const std::string& name, Vec& x, const Vec& analytic,
               const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), analytic.size()) << name;
  const std::size_t stride = std::max<std::size_t>(1, x.size() / 80);
  Vec num, ana;
  for (std::size_t i = 0; i < x.size(); i += stride) {
    const double x0 = x[i], h = 1e-6 * std::max(1.0, std::fabs(x0));
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    num.push_back((lp - lm) / (2 * h));
    ana.push_back(analytic[i]);
  }
  EXPECT_TRUE(flare::test::all_close(name, ana, num, 1e-6, 1e-6));
}

Vec minus(const Vec& a, const Vec& b) {
  Vec r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] - b[i];
  return r;
}

}  // namespace

TEST(RefGradients, Linear) {
  const int N = 5, in = 7, out = 3;
  Vec x = randn<double>(N * in, 1), W = randn<double>(out * in, 2), b = randn<double>(out, 3);
  const Vec w = randn<double>(N * out, 4);
  const Vec gx0 = randn<double>(x.size(), 5), gW0 = randn<double>(W.size(), 6),
            gb0 = randn<double>(b.size(), 7);
  Vec gx = gx0, gW = gW0, gb = gb0;
  impl::linear_bwd<double>(x.data(), W.data(), w.data(), gx.data(), gW.data(), gb.data(), N, in,
                           out);
  auto loss = [&] {
    Vec y(N * out);
    impl::linear_fwd<double>(x.data(), W.data(), b.data(), y.data(), N, in, out);
    return dot(w, y);
  };
  expect_fd("dx", x, minus(gx, gx0), loss);
  expect_fd("dW", W, minus(gW, gW0), loss);
  expect_fd("db", b, minus(gb, gb0), loss);
}

TEST(RefGradients, Gelu) {
  const int n = 101;
  Vec x = randn<double>(n, 11, 3.0);
  const Vec w = randn<double>(n, 12), g0 = randn<double>(n, 13);
  Vec g = g0;
  impl::gelu_bwd<double>(x.data(), w.data(), g.data(), n);
  expect_fd("dx", x, minus(g, g0), [&] {
    Vec y(n);
    impl::gelu_fwd<double>(x.data(), y.data(), n);
    return dot(w, y);
  });
}

TEST(RefGradients, LayerNorm) {
  const int N = 4, C = 9;
  Vec x = randn<double>(N * C, 21, 2.0), gamma = randn<double>(C, 22), beta = randn<double>(C, 23);
  for (int i = 0; i < C; ++i) x[i] += 5.0;  // a row with a large mean
  const Vec w = randn<double>(N * C, 24);
  Vec y(N * C), mean(N), rstd(N);
  impl::layernorm_fwd<double>(x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                              rstd.data(), N, C, 1e-5);
  const Vec gx0 = randn<double>(x.size(), 25), gg0 = randn<double>(C, 26),
            gb0 = randn<double>(C, 27);
  Vec gx = gx0, gg = gg0, gb = gb0;
  impl::layernorm_bwd<double>(x.data(), gamma.data(), mean.data(), rstd.data(), w.data(), gx.data(),
                              gg.data(), gb.data(), N, C);
  auto loss = [&] {
    Vec yy(N * C), mm(N), rr(N);
    impl::layernorm_fwd<double>(x.data(), gamma.data(), beta.data(), yy.data(), mm.data(),
                                rr.data(), N, C, 1e-5);
    return dot(w, yy);
  };
  expect_fd("dx", x, minus(gx, gx0), loss);
  expect_fd("dgamma", gamma, minus(gg, gg0), loss);
  expect_fd("dbeta", beta, minus(gb, gb0), loss);
}

// Three meshes, the middle one empty: gradients must flow only within each mesh.
class RefMixerGradients : public ::testing::TestWithParam<double> {};

TEST_P(RefMixerGradients, Encode) {
  const double scale = GetParam();
  const int B = 3, H = 2, M = 4, D = 3, C = H * D;
  const std::vector<std::int64_t> off = {0, 5, 5, 12};
  const std::int64_t N = off[B];
  Vec Q = randn<double>(H * M * D, 31), K = randn<double>(N * C, 32), V = randn<double>(N * C, 33);
  const Vec w = randn<double>(B * H * M * D, 34);
  Vec Z(B * H * M * D), lse(B * H * M);
  impl::flare_encode_fwd<double>(Q.data(), K.data(), V.data(), off.data(), B, H, M, D, scale,
                                 Z.data(), lse.data());
  EXPECT_EQ(lse[1 * H * M], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Z[1 * H * M * D], 0.0);
  const Vec gq0 = randn<double>(Q.size(), 35), gk0 = randn<double>(K.size(), 36),
            gv0 = randn<double>(V.size(), 37);
  Vec gq = gq0, gk = gk0, gv = gv0;
  impl::flare_encode_bwd<double>(Q.data(), K.data(), V.data(), Z.data(), lse.data(), w.data(),
                                 off.data(), B, H, M, D, scale, gq.data(), gk.data(), gv.data());
  auto loss = [&] {
    Vec zz(Z.size()), ll(lse.size());
    impl::flare_encode_fwd<double>(Q.data(), K.data(), V.data(), off.data(), B, H, M, D, scale,
                                   zz.data(), ll.data());
    return dot(w, zz);
  };
  expect_fd("dQ", Q, minus(gq, gq0), loss);
  expect_fd("dK", K, minus(gk, gk0), loss);
  expect_fd("dV", V, minus(gv, gv0), loss);
}

TEST_P(RefMixerGradients, Decode) {
  const double scale = GetParam();
  const int B = 3, H = 2, M = 4, D = 3, C = H * D;
  const std::vector<std::int64_t> off = {0, 5, 5, 12};
  const std::int64_t N = off[B];
  Vec Q = randn<double>(H * M * D, 41), K = randn<double>(N * C, 42),
      Z = randn<double>(B * H * M * D, 43);
  const Vec w = randn<double>(N * C, 44);
  Vec Y(N * C), lse(N * H);
  impl::flare_decode_fwd<double>(Q.data(), K.data(), Z.data(), off.data(), B, H, M, D, scale,
                                 Y.data(), lse.data());
  const Vec gq0 = randn<double>(Q.size(), 45), gk0 = randn<double>(K.size(), 46),
            gz0 = randn<double>(Z.size(), 47);
  Vec gq = gq0, gk = gk0, gz = gz0;
  impl::flare_decode_bwd<double>(Q.data(), K.data(), Z.data(), Y.data(), lse.data(), w.data(),
                                 off.data(), B, H, M, D, scale, gq.data(), gk.data(), gz.data());
  auto loss = [&] {
    Vec yy(Y.size()), ll(lse.size());
    impl::flare_decode_fwd<double>(Q.data(), K.data(), Z.data(), off.data(), B, H, M, D, scale,
                                   yy.data(), ll.data());
    return dot(w, yy);
  };
  expect_fd("dQ", Q, minus(gq, gq0), loss);
  expect_fd("dK", K, minus(gk, gk0), loss);
  expect_fd("dZ", Z, minus(gz, gz0), loss);
}

INSTANTIATE_TEST_SUITE_P(Scales, RefMixerGradients, ::testing::Values(1.0, 0.35));

TEST(RefGradients, Mse) {
  const int n = 37;
  Vec p = randn<double>(n, 51);
  const Vec t = randn<double>(n, 52), g0 = randn<double>(n, 53);
  Vec g = g0;
  impl::mse_bwd<double>(p.data(), t.data(), n, 0.7, g.data());
  expect_fd("dpred", p, minus(g, g0),
            [&] { return 0.7 * impl::mse_fwd<double>(p.data(), t.data(), n); });
}

TEST(RefGradients, RelL2) {
  const int B = 3, T = 2;
  const std::vector<std::int64_t> off = {0, 4, 5, 11};  // the middle mesh has one point
  const std::int64_t n = off[B] * T;
  Vec p = randn<double>(n, 61);
  const Vec t = randn<double>(n, 62), g0 = randn<double>(n, 63);
  Vec g = g0;
  impl::rel_l2_bwd<double>(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, 0.7, g.data());
  expect_fd("dpred", p, minus(g, g0), [&] {
    Vec err(B);
    impl::rel_l2_fwd<double>(p.data(), t.data(), off.data(), B, T, nullptr, nullptr, err.data());
    return 0.7 * (err[0] + err[1] + err[2]) / B;
  });
}

// The denormalised loss of train --loss rel_l2: value by hand on one point, gradient by finite
// differences in double.
TEST(RefGradients, RelL2Denormalised) {
  const int B = 3, T = 3;
  const std::vector<std::int64_t> off = {0, 4, 5, 11};
  const std::int64_t n = off[B] * T;
  Vec p = randn<double>(n, 81);
  const Vec t = randn<double>(n, 82), g0 = randn<double>(n, 83);
  const Vec s = {0.5, 4.0, 0.02}, mu = {1.5, -0.3, 0.01};
  std::vector<double> err(B);
  impl::rel_l2_fwd<double>(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), err.data());
  double ee = 0, yy = 0;  // mesh 1 (one point) by hand
  for (int c = 0; c < T; ++c) {
    const double e = s[c] * p[4 * T + c] - s[c] * t[4 * T + c];
    const double y = s[c] * t[4 * T + c] + mu[c];
    ee += e * e;
    yy += y * y;
  }
  EXPECT_NEAR(err[1], std::sqrt(ee / yy), 1e-14);
  Vec g = g0;
  impl::rel_l2_bwd<double>(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), 0.7,
                           g.data());
  expect_fd("dpred", p, minus(g, g0), [&] {
    std::vector<double> e(B);
    impl::rel_l2_fwd<double>(p.data(), t.data(), off.data(), B, T, s.data(), mu.data(), e.data());
    return 0.7 * (e[0] + e[1] + e[2]) / B;
  });
}

TEST(RefLosses, RelL2ZeroErrorHasZeroGradient) {
  const std::vector<std::int64_t> off = {0, 3};
  const Vec t = randn<double>(6, 71);
  Vec g(6, 0.0), err(1);
  impl::rel_l2_fwd<double>(t.data(), t.data(), off.data(), 1, 2, nullptr, nullptr, err.data());
  impl::rel_l2_bwd<double>(t.data(), t.data(), off.data(), 1, 2, nullptr, nullptr, 1.0, g.data());
  EXPECT_EQ(err[0], 0.0);
  for (double v : g) EXPECT_EQ(v, 0.0);
}
