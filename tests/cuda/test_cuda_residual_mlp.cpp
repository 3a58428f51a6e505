// The fused ResidualMLP (kernels/cuda/residual_mlp.cu) against an fp64 host MLP, by the bf16
// rule: the error against fp64 may be at most twice that of a naive bf16 implementation (each
// layer's pre-activation, state and output stored in bf16, as the unfused op-by-op path does).
// Shapes of every MLP of the model (k/v/ffn, the input and output projections, the mixer's output
// Linear with the residual stream), hidden 32 and 128, row counts that are not multiples of a
// warp's 16 rows or a block's 128. The forward's y; then the backward from x and dy alone: dx,
// every dW and db (with the += contract), and the states it recomputed into its scratch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cuda/residual_mlp.cuh"
#include "tests/cuda/host_reference.h"

using namespace flare;
using cuda::bf16;
using cuda::DeviceBuffer;

namespace {

struct Shape {
  int in, hidden, out, layers;  // layers = -1: one Linear
  bool input_residual, output_residual;
  std::int64_t N;
  bool extra_residual = false;  // y += r (the block's residual stream)
};

constexpr double kC = 0.7978845608028654, kA = 0.044715;
double gelu(double v) { return 0.5 * v * (1.0 + std::tanh(kC * (v + kA * v * v * v))); }
double gelu_grad(double v) {
  const double t = std::tanh(kC * (v + kA * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * kC * (1 + 3 * kA * v * v);
}

// Host MLP. rnd: where the naive bf16 path rounds (pre-activations, states, output).
struct HostMlp {
  std::vector<double> y, pre, hid;  // y [N, out]; pre, hid [(layers+1), N, hidden]
};
HostMlp host_mlp(const Shape& s, const std::vector<float>& x, const std::vector<std::vector<float>>& W,
                 const std::vector<std::vector<float>>& b, const std::vector<float>& r,
                 test::Rounding rnd) {
  const int n_lin = s.layers + 2;
  HostMlp res;
  res.y.assign(std::size_t(s.N) * s.out, 0.0);
  res.pre.assign(std::size_t(n_lin - 1) * s.N * s.hidden, 0.0);
  res.hid.assign(res.pre.size(), 0.0);
  std::vector<double> h(s.hidden), a(s.hidden), in(s.hidden);
  for (std::int64_t n = 0; n < s.N; ++n) {
    for (int l = 0; l < n_lin; ++l) {
      const int cols = l == 0 ? s.in : s.hidden, rows = l == n_lin - 1 ? s.out : s.hidden;
      for (int c = 0; c < cols; ++c) in[c] = l == 0 ? x[n * s.in + c] : h[c];
      for (int o = 0; o < rows; ++o) {
        double acc = b[l][o];
        for (int c = 0; c < cols; ++c) acc += double(W[l][o * cols + c]) * in[c];
        a[o] = rnd(acc);
      }
      if (l < n_lin - 1) {
        for (int o = 0; o < s.hidden; ++o) {
          const double skip = l > 0 || s.input_residual ? in[o] : 0.0;
          h[o] = rnd(rnd(gelu(a[o])) + skip);
          const std::size_t at = (std::size_t(l) * s.N + n) * s.hidden + o;
          res.pre[at] = a[o];
          res.hid[at] = h[o];
        }
      } else {
        for (int o = 0; o < s.out; ++o)
          res.y[n * s.out + o] =
              rnd(a[o] + (s.output_residual ? h[o] : 0.0) + (s.extra_residual ? r[n * s.out + o] : 0.0));
      }
    }
  }
  return res;
}

// Host backward from the forward's pre/hid (same rounding mode): dx = dx0 + ∂/∂x, dW/db from
// zero. rnd rounds where the layer-by-layer bf16 path stores (dh, da, dx).
struct HostGrads {
  std::vector<double> dx;
  std::vector<std::vector<double>> dW, db;
};
HostGrads host_mlp_bwd(const Shape& s, const std::vector<float>& x,
                       const std::vector<std::vector<float>>& W, const HostMlp& f,
                       const std::vector<float>& dy, const std::vector<float>& dx0,
                       test::Rounding rnd) {
  const int n_lin = s.layers + 2, H = s.hidden;
  HostGrads g;
  g.dx.assign(dx0.begin(), dx0.end());
  for (int l = 0; l < n_lin; ++l) {
    const int cols = l == 0 ? s.in : H, rows = l == n_lin - 1 ? s.out : H;
    g.dW.emplace_back(std::size_t(rows) * cols, 0.0);
    g.db.emplace_back(rows, 0.0);
  }
  std::vector<double> dh(H), da(H), nh(H);
  auto hid = [&](int l, std::int64_t n, int c) { return f.hid[(std::size_t(l) * s.N + n) * H + c]; };
  auto pre = [&](int l, std::int64_t n, int c) { return f.pre[(std::size_t(l) * s.N + n) * H + c]; };
  for (std::int64_t n = 0; n < s.N; ++n) {
    const int L = n_lin - 1;  // fc2
    const int cols_L = L == 0 ? s.in : H;  // the last layer's inputs
    for (int k = 0; k < cols_L; ++k) {
      double v = s.output_residual ? dy[n * s.out + k] : 0.0;
      for (int o = 0; o < s.out; ++o) v += double(dy[n * s.out + o]) * W[L][o * cols_L + k];
      dh[k] = rnd(v);
    }
    for (int o = 0; o < s.out; ++o) {
      g.db[L][o] += dy[n * s.out + o];
      for (int k = 0; k < cols_L; ++k)  // layers = -1: the one Linear reads x
        g.dW[L][o * cols_L + k] +=
            dy[n * s.out + o] * (L == 0 ? double(x[n * s.in + k]) : hid(L - 1, n, k));
    }
    for (int l = L - 1; l >= 0; --l) {
      const int cols = l == 0 ? s.in : H;
      for (int o = 0; o < H; ++o) da[o] = rnd(gelu_grad(pre(l, n, o)) * dh[o]);
      for (int o = 0; o < H; ++o) {
        g.db[l][o] += da[o];
        for (int c = 0; c < cols; ++c)
          g.dW[l][o * cols + c] += da[o] * (l == 0 ? double(x[n * s.in + c]) : hid(l - 1, n, c));
      }
      const bool res = l > 0 || s.input_residual;
      for (int c = 0; c < cols; ++c) {
        double v = res ? dh[c] : 0.0;
        for (int o = 0; o < H; ++o) v += da[o] * W[l][o * cols + c];
        nh[c] = rnd(v);
      }
      std::copy(nh.begin(), nh.begin() + cols, dh.begin());
    }
    for (int c = 0; c < s.in; ++c) g.dx[n * s.in + c] = rnd(g.dx[n * s.in + c] + dh[c]);
  }
  return g;
}

// floor: an absolute allowance relative to the largest |exact| (fp32 accumulation of N terms
// where the naive version is exact, e.g. the output bias gradient Σ dy).
void expect_within_twice_naive(const std::string& name, const std::vector<double>& got,
                               const std::vector<double>& naive, const std::vector<double>& exact,
                               double floor = 1e-6) {
  ASSERT_EQ(got.size(), exact.size()) << name;
  double err = 0, err_naive = 0, scale = 1;
  std::size_t at = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const double g = got[i];
    ASSERT_TRUE(std::isfinite(g)) << name << " not finite at " << i;
    if (std::abs(g - exact[i]) > err) err = std::abs(g - exact[i]), at = i;
    err_naive = std::max(err_naive, std::abs(naive[i] - exact[i]));
    scale = std::max(scale, std::abs(exact[i]));
  }
  EXPECT_LE(err, 2 * err_naive + floor * scale)
      << name << ": fused err " << err << " at " << at << ", naive bf16 err " << err_naive;
}
void expect_within_twice_naive(const std::string& name, const std::vector<bf16>& got,
                               const std::vector<double>& naive, const std::vector<double>& exact) {
  expect_within_twice_naive(name, test::widen(got), naive, exact);
}

class CudaResidualMlp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
    ctx = std::make_unique<cuda::CudaContext>();
  }

  // Runs the forward and the backward and checks y, dx, dW, db and the recomputed states.
  void check(const Shape& s, cuda::WeightGradPath path = cuda::WeightGradPath::kAuto) {
    SCOPED_TRACE(testing::Message() << "in " << s.in << " hidden " << s.hidden << " out " << s.out
                                    << " layers " << s.layers << " N " << s.N << " weight-grad path "
                                    << int(path));
    const int n_lin = s.layers + 2;
    const auto x = test::round_bf16(test::randn(std::size_t(s.N) * s.in, 1.f, rng));
    std::vector<std::vector<float>> W(n_lin), b(n_lin);
    std::vector<DeviceBuffer<bf16>> gW(n_lin);
    std::vector<DeviceBuffer<float>> gb(n_lin);
    cuda::ResidualMlpArgs args;
    args.in = s.in, args.hidden = s.hidden, args.out = s.out, args.layers = s.layers;
    args.input_residual = s.input_residual, args.output_residual = s.output_residual;
    args.weight_grad = path;
    for (int l = 0; l < n_lin; ++l) {
      const int cols = l == 0 ? s.in : s.hidden, rows = l == n_lin - 1 ? s.out : s.hidden;
      // Weights of the size that keeps activations O(1) through the chain, as a trained model's.
      W[l] = test::round_bf16(
          test::randn(std::size_t(rows) * cols, 1.f / std::sqrt(float(cols)), rng));
      b[l] = test::randn(rows, 0.1f, rng);
      gW[l].upload(test::to_bf16(W[l]));
      gb[l].upload(b[l]);
      args.W[l] = gW[l].data();
      args.b[l] = gb[l].data();
    }
    const std::size_t nr = s.extra_residual ? std::size_t(s.N) * s.out : 0;
    const auto r = test::round_bf16(test::randn(nr, 1.f, rng));
    const HostMlp exact = host_mlp(s, x, W, b, r, {});
    const HostMlp naive = host_mlp(s, x, W, b, r, {true});

    DeviceBuffer<bf16> gx, gr, gy(std::size_t(s.N) * s.out);
    gx.upload(test::to_bf16(x));
    if (s.extra_residual) {
      gr.upload(test::to_bf16(r));
      args.residual = gr.data();
    }
    gy.fill_bytes(0xFF);
    ASSERT_TRUE(cuda::residual_mlp_supported(*ctx, args, gx.data(), gy.data()));
    cuda::residual_mlp_fwd(*ctx, args, gx.data(), gy.data(), s.N);
    const auto y = gy.download();
    expect_within_twice_naive("y", y, naive.y, exact.y);

    // Backward from x and dy: dx += (onto random values: the += contract), dW and db += (onto
    // random values), the scratch overwritten (it starts as NaN bytes).
    std::vector<DeviceBuffer<bf16>> hid(n_lin - 1), da(n_lin - 1);
    for (int l = 0; l < n_lin - 1; ++l) {
      hid[l].resize(std::size_t(s.N) * s.hidden);
      da[l].resize(hid[l].size());
      hid[l].fill_bytes(0xFF);
      da[l].fill_bytes(0xFF);
      args.hid[l] = hid[l].data();
      args.da[l] = da[l].data();
    }
    const auto dy = test::round_bf16(test::randn(std::size_t(s.N) * s.out, 1.f, rng));
    const auto dx0 = test::round_bf16(test::randn(std::size_t(s.N) * s.in, 1.f, rng));
    DeviceBuffer<bf16> gdy, gdx;
    gdy.upload(test::to_bf16(dy));
    gdx.upload(test::to_bf16(dx0));
    std::vector<std::vector<float>> dW0(n_lin), db0(n_lin);
    std::vector<DeviceBuffer<float>> gdW(n_lin), gdb(n_lin);
    for (int l = 0; l < n_lin; ++l) {
      dW0[l] = test::randn(W[l].size(), 1.f, rng);
      db0[l] = test::randn(b[l].size(), 1.f, rng);
      gdW[l].upload(dW0[l]);
      gdb[l].upload(db0[l]);
      args.dW[l] = gdW[l].data();
      args.db[l] = gdb[l].data();
    }
    ASSERT_TRUE(cuda::residual_mlp_bwd_supported(*ctx, args, gx.data(), gdy.data(), gdx.data()));
    cuda::residual_mlp_bwd(*ctx, args, gx.data(), gdy.data(), gdx.data(), s.N);
    const std::size_t per = std::size_t(s.N) * s.hidden;
    for (int l = 0; l < n_lin - 1; ++l) {
      auto slice = [&](const std::vector<double>& v) {
        return std::vector<double>(v.begin() + l * per, v.begin() + (l + 1) * per);
      };
      expect_within_twice_naive("recomputed hid " + std::to_string(l), hid[l].download(),
                                slice(naive.hid), slice(exact.hid));
    }
    const HostGrads ge = host_mlp_bwd(s, x, W, exact, dy, dx0, {});
    const HostGrads gn = host_mlp_bwd(s, x, W, naive, dy, dx0, {true});
    expect_within_twice_naive("dx", gdx.download(), gn.dx, ge.dx);
    for (int l = 0; l < n_lin; ++l) {
      auto minus0 = [](const std::vector<float>& got, const std::vector<float>& v0) {
        std::vector<double> d(got.size());
        for (std::size_t i = 0; i < got.size(); ++i) d[i] = double(got[i]) - v0[i];
        return d;
      };
      expect_within_twice_naive("dW " + std::to_string(l), minus0(gdW[l].download(), dW0[l]),
                                gn.dW[l], ge.dW[l], 1e-5);
      expect_within_twice_naive("db " + std::to_string(l), minus0(gdb[l].download(), db0[l]),
                                gn.db[l], ge.db[l], 1e-5);
    }
  }

  std::unique_ptr<cuda::CudaContext> ctx;
  std::mt19937 rng{7};
};

TEST_F(CudaResidualMlp, KeyValueAndFeedForwardShape) {
  check({64, 64, 64, 3, true, true, 1000});  // k_proj, v_proj, ffn of the default model
}

TEST_F(CudaResidualMlp, InputProjectionShape) {
  check({8, 64, 64, 2, false, true, 37});  // F = 8 features in, no input residual
  check({7, 64, 64, 2, false, true, 300});  // an odd feature count
}

TEST_F(CudaResidualMlp, OutputProjectionShape) {
  check({64, 64, 1, 2, true, false, 5003});  // T = 1 field out
  check({64, 64, 3, 2, true, false, 129});
}

// The mixer's output projection with the block's residual add (x_mid = x_in + Linear(Y)), and a
// whole MLP with the residual add (x_out = x_mid + ffn(LN2(x_mid))).
TEST_F(CudaResidualMlp, OneLinearAndResidualStream) {
  check({64, 64, 64, -1, false, false, 1000, true});
  check({64, 64, 64, -1, false, false, 33});
  check({64, 64, 64, 3, true, true, 517, true});
}

TEST_F(CudaResidualMlp, OtherWidthsAndDepths) {
  check({32, 32, 32, 0, true, true, 17});
  check({5, 32, 3, 1, false, false, 16});
  check({128, 128, 128, 3, true, true, 777});
  check({64, 64, 64, 6, true, true, 200});  // the deepest MLP the kernel takes
}

// The weight gradients by both paths, whichever the row count would pick: the grouped launch and
// the per-layer cuBLASLt GEMMs (partial 64-wide tiles: 7 features in, 3 fields out, hidden 128).
TEST_F(CudaResidualMlp, BothWeightGradientPathsMatchTheReference) {
  for (const auto path : {cuda::WeightGradPath::kGrouped, cuda::WeightGradPath::kGemm}) {
    check({64, 64, 64, 3, true, true, 1000}, path);
    check({7, 64, 64, 2, false, true, 300}, path);
    check({64, 64, 3, 2, true, false, 129}, path);
    check({128, 128, 128, 3, true, true, 777}, path);
    check({64, 64, 64, -1, false, false, 33}, path);
  }
}

// weight_grads alone against fp64 sums: several terms in one launch, shapes that leave partial
// tiles in both directions and rows that are not whole stages, a dW view at an odd float offset
// (no 8-byte pair atomics there), and the += contract. bf16 products are exact in fp32, so the
// only error is the fp32 summation: allowed 2e-6·Σ|a||x| (about 30 roundings in a row at full
// magnitude), while one missing point would change a sum by about |a||x| ≈ Σ/N.
TEST_F(CudaResidualMlp, GroupedWeightGradientsEqualTheSums) {
  struct T {
    int out, in;
  };
  for (const std::int64_t N : {std::int64_t(1), std::int64_t(70), std::int64_t(5001)}) {
    SCOPED_TRACE(testing::Message() << "N " << N);
    const std::vector<T> shapes = {{3, 7}, {130, 70}, {64, 64}, {1, 129}};
    std::vector<std::vector<float>> a(shapes.size()), x(shapes.size()), dW0(shapes.size());
    std::vector<DeviceBuffer<bf16>> ga(shapes.size()), gx(shapes.size());
    DeviceBuffer<float> gdW;
    std::vector<std::size_t> at;
    std::size_t total = 1;  // one float of offset: every dW view starts at an odd float
    for (const T& t : shapes) {
      at.push_back(total);
      total += std::size_t(t.out) * t.in;
    }
    std::vector<float> dW_init = test::randn(total, 1.f, rng);
    gdW.upload(dW_init);
    std::vector<cuda::WeightGradTerm> terms;
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      a[j] = test::round_bf16(test::randn(std::size_t(N) * shapes[j].out, 1.f, rng));
      x[j] = test::round_bf16(test::randn(std::size_t(N) * shapes[j].in, 1.f, rng));
      ga[j].upload(test::to_bf16(a[j]));
      gx[j].upload(test::to_bf16(x[j]));
      terms.push_back({ga[j].data(), gx[j].data(), gdW.data() + at[j], shapes[j].out, shapes[j].in});
    }
    cuda::weight_grads(*ctx, terms.data(), int(terms.size()), N);
    const auto got = gdW.download();
    EXPECT_EQ(got[0], dW_init[0]) << "the float before the first view was written";
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      const int out = shapes[j].out, in = shapes[j].in;
      double worst = 0;
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) {
          double sum = 0, mag = 0;
          for (std::int64_t n = 0; n < N; ++n) {
            const double p = double(a[j][n * out + o]) * x[j][n * in + i];
            sum += p;
            mag += std::abs(p);
          }
          const std::size_t k = at[j] + std::size_t(o) * in + i;
          const double err = std::abs(double(got[k]) - dW_init[k] - sum);
          worst = std::max(worst, err / (2e-6 * mag + 1e-5));
        }
      EXPECT_LE(worst, 1.0) << "term " << j << " (" << out << " x " << in << ")";
    }
  }
  EXPECT_THROW(cuda::weight_grads(*ctx, nullptr, 0, 10), Error);
}

// MLPs of different depths share a kernel whose shared-memory limit must fit each launch: a deep
// MLP (over the 48 KB default), a shallow one, then the deep one again (the order that failed
// when the limit was set once per depth: cudaErrorInvalidValue).
TEST_F(CudaResidualMlp, MlpsOfDifferentDepthsShareTheKernel) {
  check({64, 64, 64, 6, true, true, 100});
  check({64, 64, 64, 0, true, true, 100});
  check({64, 64, 64, 6, true, true, 100});
}

// The k/v/ffn shape with every weight pointing at W [64 × 64].
cuda::ResidualMlpArgs kv_args(const bf16* W) {
  cuda::ResidualMlpArgs args;
  args.in = args.hidden = args.out = 64;
  args.layers = 3;
  for (int l = 0; l < 5; ++l) args.W[l] = W;
  return args;
}

TEST_F(CudaResidualMlp, EmptyBatchWritesNothing) {
  DeviceBuffer<bf16> W(64 * 64), x(64), y(64);
  const auto args = kv_args(W.data());
  y.fill_bytes(0x7F);
  cuda::residual_mlp_fwd(*ctx, args, x.data(), y.data(), 0);
  const auto after = y.download();
  EXPECT_TRUE(std::all_of(after.begin(), after.end(), [](bf16 v) {
    std::uint16_t u;
    std::memcpy(&u, &v, 2);
    return u == 0x7F7F;
  }));
}

TEST_F(CudaResidualMlp, UnsupportedShapesAndViewsAreDeclined) {
  DeviceBuffer<bf16> W(64 * 64), x(130), y(130);
  const auto args = kv_args(W.data());
  EXPECT_TRUE(cuda::residual_mlp_supported(*ctx, args, x.data(), y.data()));
  EXPECT_FALSE(cuda::residual_mlp_supported(*ctx, args, x.data() + 1, y.data()));  // misaligned
  EXPECT_THROW(cuda::residual_mlp_fwd(*ctx, args, x.data() + 1, y.data(), 1), Error);
  auto wider = args;
  wider.hidden = wider.in = wider.out = 48;  // no kernel for hidden 48
  EXPECT_FALSE(cuda::residual_mlp_supported(*ctx, wider, x.data(), y.data()));
  auto deep = args;
  deep.layers = 7;
  EXPECT_FALSE(cuda::residual_mlp_supported(*ctx, deep, x.data(), y.data()));
  auto res = args;
  res.in = 8;  // an input residual needs in == hidden
  res.input_residual = true;
  EXPECT_FALSE(cuda::residual_mlp_supported(*ctx, res, x.data(), y.data()));
  auto half = args;
  half.hid[0] = half.da[0] = x.data();  // the backward needs scratch for every hidden layer
  EXPECT_FALSE(cuda::residual_mlp_bwd_supported(*ctx, half, x.data(), y.data(), x.data()));
  for (int l = 1; l < 4; ++l) half.hid[l] = half.da[l] = x.data();
  EXPECT_TRUE(cuda::residual_mlp_bwd_supported(*ctx, half, x.data(), y.data(), x.data()));
  EXPECT_FALSE(cuda::residual_mlp_bwd_supported(*ctx, half, x.data(), y.data(), x.data() + 1));
}

}  // namespace
