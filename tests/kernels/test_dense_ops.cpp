// cpu ≈ ref for the dense ops: linear, GELU, LayerNorm, add. Shapes are deliberately not multiples
// of the cpu chunk sizes (512 rows) and include N = 1. Tolerances follow compare.h: a value reduced
// over K fp32 terms of magnitude s gets atol = 8·ε₃₂·√K·s, plus rtol = 4·ε₃₂.
// Gradient buffers start from the same random values in both tiers, so accumulation (+=) is checked.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/ops.h"
#include "tests/kernels/compare.h"

namespace ref = flare::kernels::ref;
namespace cpu = flare::kernels::cpu;
using flare::test::all_close;
using flare::test::fp32_atol;
using flare::test::kEps32;
using flare::test::max_abs;
using flare::test::randn;
using Vec = std::vector<float>;

// (N, in, out)
class LinearTest : public ::testing::TestWithParam<std::tuple<std::int64_t, int, int>> {};

TEST_P(LinearTest, ForwardAndBackwardMatchRef) {
  const auto [N, in, out] = GetParam();
  const Vec x = randn(N * in, 1), W = randn(std::size_t(out) * in, 2, 0.3), b = randn(out, 3);
  Vec y_ref(N * out), y_cpu(N * out, 7.0f);
  ref::linear_fwd(x.data(), W.data(), b.data(), y_ref.data(), N, in, out);
  cpu::linear_fwd(x.data(), W.data(), b.data(), y_cpu.data(), N, in, out);
  const double xw = max_abs(x) * max_abs(W);
  EXPECT_TRUE(all_close("y", y_cpu, y_ref, fp32_atol(in, xw), 4 * kEps32));

  // Without bias.
  ref::linear_fwd(x.data(), W.data(), nullptr, y_ref.data(), N, in, out);
  cpu::linear_fwd(x.data(), W.data(), nullptr, y_cpu.data(), N, in, out);
  EXPECT_TRUE(all_close("y (no bias)", y_cpu, y_ref, fp32_atol(in, xw), 4 * kEps32));

  const Vec dy = randn(N * out, 4);
  Vec dx_ref = randn(N * in, 5), dW_ref = randn(W.size(), 6), db_ref = randn(out, 7);
  Vec dx_cpu = dx_ref, dW_cpu = dW_ref, db_cpu = db_ref;
  ref::linear_bwd(x.data(), W.data(), dy.data(), dx_ref.data(), dW_ref.data(), db_ref.data(), N, in, out);
  cpu::linear_bwd(x.data(), W.data(), dy.data(), dx_cpu.data(), dW_cpu.data(), db_cpu.data(), N, in, out);
  EXPECT_TRUE(all_close("dx", dx_cpu, dx_ref, fp32_atol(out, max_abs(dy) * max_abs(W)) + 4 * kEps32 * max_abs(dx_ref), 4 * kEps32));
  EXPECT_TRUE(all_close("dW", dW_cpu, dW_ref, fp32_atol(double(N), max_abs(dy) * max_abs(x)), 4 * kEps32));
  EXPECT_TRUE(all_close("db", db_cpu, db_ref, fp32_atol(double(N), max_abs(dy)), 4 * kEps32));

  // nullptr gradients are skipped, the others still accumulate.
  Vec dW2 = dW_cpu;
  cpu::linear_bwd(x.data(), W.data(), dy.data(), nullptr, dW2.data(), nullptr, N, in, out);
  for (std::size_t i = 0; i < dW2.size(); ++i) dW2[i] -= dW_cpu[i];
  Vec dW_once(W.size(), 0.0f);
  ref::linear_bwd(x.data(), W.data(), dy.data(), nullptr, dW_once.data(), nullptr, N, in, out);
  EXPECT_TRUE(all_close("dW second call", dW2, dW_once,
                        fp32_atol(double(N), max_abs(dy) * max_abs(x)) + 4 * kEps32 * max_abs(dW_cpu), 4 * kEps32));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(std::make_tuple(1, 8, 16), std::make_tuple(37, 64, 64),
                                           std::make_tuple(1027, 64, 64), std::make_tuple(513, 13, 7),
                                           std::make_tuple(2051, 64, 3), std::make_tuple(300, 8, 256)));

class ElementwiseTest : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ElementwiseTest, GeluMatchesRef) {
  const std::int64_t n = GetParam();
  const Vec x = randn(n, 11, 3.0), dy = randn(n, 12);
  Vec y_ref(n), y_cpu(n);
  ref::gelu_fwd(x.data(), y_ref.data(), n);
  cpu::gelu_fwd(x.data(), y_cpu.data(), n);
  // tanh in fp32 is accurate to a few ulp; the result scales with |x|.
  EXPECT_TRUE(all_close("gelu", y_cpu, y_ref, 8 * kEps32, 8 * kEps32));
  Vec dx_ref = randn(n, 13), dx_cpu = dx_ref;
  ref::gelu_bwd(x.data(), dy.data(), dx_ref.data(), n);
  cpu::gelu_bwd(x.data(), dy.data(), dx_cpu.data(), n);
  EXPECT_TRUE(all_close("gelu dx", dx_cpu, dx_ref, 16 * kEps32 * max_abs(dy), 8 * kEps32));
}

TEST_P(ElementwiseTest, AddMatchesRefAndMayAlias) {
  const std::int64_t n = GetParam();
  const Vec a = randn(n, 21), b = randn(n, 22);
  Vec y_ref(n), y_cpu(n);
  ref::add(a.data(), b.data(), y_ref.data(), n);
  cpu::add(a.data(), b.data(), y_cpu.data(), n);
  EXPECT_TRUE(all_close("add", y_cpu, y_ref, 0.0, 0.0));
  Vec acc = a;  // residual: x = x + f(x)
  cpu::add(acc.data(), b.data(), acc.data(), n);
  EXPECT_TRUE(all_close("add in place", acc, y_ref, 0.0, 0.0));
}

INSTANTIATE_TEST_SUITE_P(Sizes, ElementwiseTest, ::testing::Values(1, 17, 1000, 100003));

// (N, C)
class LayerNormTest : public ::testing::TestWithParam<std::tuple<std::int64_t, int>> {};

TEST_P(LayerNormTest, ForwardAndBackwardMatchRef) {
  const auto [N, C] = GetParam();
  Vec x = randn(N * C, 31, 2.0);
  for (std::int64_t i = 0; i < N * C; i += 3) x[i] += 10.0f;  // non-zero means
  const Vec gamma = randn(C, 32), beta = randn(C, 33), dy = randn(N * C, 34);
  Vec y_ref(N * C), y_cpu(N * C), mu_ref(N), mu_cpu(N), rs_ref(N), rs_cpu(N);
  ref::layernorm_fwd(x.data(), gamma.data(), beta.data(), y_ref.data(), mu_ref.data(), rs_ref.data(), N, C, 1e-5f);
  cpu::layernorm_fwd(x.data(), gamma.data(), beta.data(), y_cpu.data(), mu_cpu.data(), rs_cpu.data(), N, C, 1e-5f);
  // x̂ is O(1) and depends on a mean and variance over C values of magnitude |x|.
  const double tol = fp32_atol(C, max_abs(x) * max_abs(gamma) * max_abs(rs_ref));
  EXPECT_TRUE(all_close("y", y_cpu, y_ref, tol + 8 * kEps32 * max_abs(beta), 4 * kEps32));
  EXPECT_TRUE(all_close("mean", mu_cpu, mu_ref, fp32_atol(C, max_abs(x)), 4 * kEps32));
  EXPECT_TRUE(all_close("rstd", rs_cpu, rs_ref, 0.0, fp32_atol(C, max_abs(x) * max_abs(rs_ref))));

  Vec dx_ref = randn(N * C, 35), dg_ref = randn(C, 36), db_ref = randn(C, 37);
  Vec dx_cpu = dx_ref, dg_cpu = dg_ref, db_cpu = db_ref;
  ref::layernorm_bwd(x.data(), gamma.data(), mu_ref.data(), rs_ref.data(), dy.data(), dx_ref.data(),
                     dg_ref.data(), db_ref.data(), N, C);
  cpu::layernorm_bwd(x.data(), gamma.data(), mu_ref.data(), rs_ref.data(), dy.data(), dx_cpu.data(),
                     dg_cpu.data(), db_cpu.data(), N, C);
  const double gmag = max_abs(dy) * max_abs(gamma) * max_abs(rs_ref) * max_abs(x) * max_abs(rs_ref);
  EXPECT_TRUE(all_close("dx", dx_cpu, dx_ref, fp32_atol(C, gmag) + 4 * kEps32 * max_abs(dx_ref), 4 * kEps32));
  EXPECT_TRUE(all_close("dgamma", dg_cpu, dg_ref,
                        fp32_atol(double(N) * C, max_abs(dy) * max_abs(x) * max_abs(rs_ref)), 4 * kEps32));
  EXPECT_TRUE(all_close("dbeta", db_cpu, db_ref, fp32_atol(double(N), max_abs(dy)), 4 * kEps32));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(std::make_tuple(1, 8), std::make_tuple(257, 64),
                                           std::make_tuple(1001, 37), std::make_tuple(3, 256)));
