// The CUDA dense ops, losses and optimizer against the ref tier (kernels::ref, double
// accumulation), plus the CUDA plumbing (error translation, out-of-memory message, allocation
// counting). fp32: every element within atol + |ref|·eps; bf16: max error vs fp64 at most twice
// that of a naive bf16 implementation (fp32 sequential accumulation, bf16 storage).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/loss_optim.cuh"
#include "kernels/ops.h"
#include "tests/cuda/host_reference.h"

using namespace flare;
using cuda::bf16;
using cuda::DeviceBuffer;
namespace kref = flare::kernels::ref;

namespace {

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
    ctx = std::make_unique<cuda::CudaContext>();
  }
  std::unique_ptr<cuda::CudaContext> ctx;
  std::mt19937 rng{42};
};

using test::round_bf16;
using test::to_bf16;
using test::widen;

void expect_fp32(const char* name, const std::vector<float>& got, const std::vector<float>& ref,
                 double rel_atol = 1e-5, double eps = 1e-4) {
  const auto r = widen(ref);
  const auto d = test::diff(got, r);
  EXPECT_FALSE(d.has_nan) << name;
  EXPECT_EQ(test::check_close(name, got, r, rel_atol * std::max(1.0, d.max_ref), eps), "");
}

void expect_bf16(const char* name, const std::vector<double>& got,
                 const std::vector<double>& naive, const std::vector<double>& ref) {
  const auto dg = test::diff(got, ref), dn = test::diff(naive, ref);
  EXPECT_FALSE(dg.has_nan) << name;
  EXPECT_LE(dg.max_abs, 2 * dn.max_abs + 1e-6 * std::max(1.0, dg.max_ref))
      << name << ": cuda err " << dg.max_abs << " at " << dg.at << ", naive bf16 err " << dn.max_abs;
}

struct LinearShape {
  std::int64_t N;
  int in, out;
  bool bias;
};

TEST_F(CudaOps, LinearFp32MatchesRef) {
  for (LinearShape s : {LinearShape{1000, 64, 64, true}, LinearShape{37, 64, 1, true},
                        LinearShape{5003, 8, 64, false}, LinearShape{3, 128, 256, true}}) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " in=" << s.in << " out=" << s.out);
    auto x = test::randn(s.N * s.in, 1.f, rng), W = test::randn(std::size_t(s.out) * s.in, 0.1f, rng),
         b = test::randn(s.out, 1.f, rng), dy = test::randn(s.N * s.out, 1.f, rng),
         dx0 = test::randn(s.N * s.in, 1.f, rng), dW0 = test::randn(W.size(), 1.f, rng),
         db0 = test::randn(s.out, 1.f, rng);
    DeviceBuffer<float> gx, gW, gb, gy(s.N * s.out), gdy, gdx, gdW, gdb;
    gx.upload(x), gW.upload(W), gb.upload(b), gdy.upload(dy), gdx.upload(dx0), gdW.upload(dW0),
        gdb.upload(db0);
    gy.fill_bytes(0xFF);
    const float* bias = s.bias ? gb.data() : nullptr;
    cuda::linear_fwd<float>(*ctx, gx.data(), gW.data(), bias, gy.data(), s.N, s.in, s.out);
    cuda::linear_bwd<float>(*ctx, gx.data(), gW.data(), gdy.data(), gdx.data(), gdW.data(),
                            gdb.data(), s.N, s.in, s.out);
    std::vector<float> y(s.N * s.out), dx = dx0, dW = dW0, db = db0;
    kref::linear_fwd(x.data(), W.data(), s.bias ? b.data() : nullptr, y.data(), s.N, s.in, s.out);
    kref::linear_bwd(x.data(), W.data(), dy.data(), dx.data(), dW.data(), db.data(), s.N, s.in, s.out);
    expect_fp32("y", gy.download(), y);
    expect_fp32("dx", gdx.download(), dx);
    expect_fp32("dW", gdW.download(), dW);
    expect_fp32("db", gdb.download(), db);
  }
}

TEST_F(CudaOps, LinearBf16WithinTwiceNaive) {
  const std::int64_t N = 2000;
  const int in = 64, out = 48;
  auto x = round_bf16(test::randn(N * in, 1.f, rng)), W = round_bf16(test::randn(out * in, 0.1f, rng)),
       dy = round_bf16(test::randn(N * out, 1.f, rng)), b = test::randn(out, 1.f, rng);
  DeviceBuffer<bf16> gx, gW, gy(N * out), gdy, gdx(N * in);
  DeviceBuffer<float> gb, gdW(out * in), gdb(out);
  gx.upload(to_bf16(x)), gW.upload(to_bf16(W)), gdy.upload(to_bf16(dy)), gb.upload(b);
  gdx.fill_bytes(0), gdW.fill_bytes(0), gdb.fill_bytes(0);
  cuda::linear_fwd<bf16>(*ctx, gx.data(), gW.data(), gb.data(), gy.data(), N, in, out);
  cuda::linear_bwd<bf16>(*ctx, gx.data(), gW.data(), gdy.data(), gdx.data(), gdW.data(), gdb.data(), N, in, out);
  // fp64 oracle and naive (fp32 sequential sums, bf16 storage of bf16 outputs).
  std::vector<double> y(N * out), yn(N * out), dx(N * in), dxn(N * in), dW(out * in), dWn(out * in);
  for (std::int64_t n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      double a = b[o];
      float an = b[o];
      for (int i = 0; i < in; ++i) {
        a += double(x[n * in + i]) * W[o * in + i];
        an += x[n * in + i] * W[o * in + i];
      }
      y[n * out + o] = a;
      yn[n * out + o] = test::bf16_round(an);
    }
  for (std::int64_t n = 0; n < N; ++n)
    for (int i = 0; i < in; ++i) {
      double a = 0;
      float an = 0;
      for (int o = 0; o < out; ++o) {
        a += double(dy[n * out + o]) * W[o * in + i];
        an += dy[n * out + o] * W[o * in + i];
      }
      dx[n * in + i] = a;
      dxn[n * in + i] = test::bf16_round(an);
    }
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      double a = 0;
      float an = 0;
      for (std::int64_t n = 0; n < N; ++n) {
        a += double(dy[n * out + o]) * x[n * in + i];
        an += dy[n * out + o] * x[n * in + i];
      }
      dW[o * in + i] = a;
      dWn[o * in + i] = an;
    }
  expect_bf16("y", widen(gy.download()), yn, y);
  expect_bf16("dx", widen(gdx.download()), dxn, dx);
  expect_bf16("dW", widen(gdW.download()), dWn, dW);
}

TEST_F(CudaOps, GeluAddScaleMatchRef) {
  const std::int64_t n = 100003;
  auto x = test::randn(n, 2.f, rng), dy = test::randn(n, 1.f, rng), dx0 = test::randn(n, 1.f, rng);
  DeviceBuffer<float> gx, gy(n), gdy, gdx, gs(n);
  gx.upload(x), gdy.upload(dy), gdx.upload(dx0);
  cuda::gelu_fwd<float>(*ctx, gx.data(), gy.data(), n);
  cuda::gelu_bwd<float>(*ctx, gx.data(), gdy.data(), gdx.data(), n);
  cuda::add<float>(*ctx, gx.data(), gdy.data(), gs.data(), n);
  cuda::scale_inplace(*ctx, gx.data(), -0.5f, n);
  std::vector<float> y(n), dx = dx0, s(n), xs = x;
  kref::gelu_fwd(x.data(), y.data(), n);
  kref::gelu_bwd(x.data(), dy.data(), dx.data(), n);
  kref::add(x.data(), dy.data(), s.data(), n);
  kref::scale_inplace(xs.data(), -0.5f, n);
  expect_fp32("gelu", gy.download(), y, 1e-6, 1e-5);
  expect_fp32("gelu dx", gdx.download(), dx, 1e-6, 1e-5);
  expect_fp32("add", gs.download(), s, 0, 0);
  expect_fp32("scale", gx.download(), xs, 0, 0);
  // bf16: the only rounding is the output's, as for any bf16 implementation.
  auto xb = round_bf16(x);
  DeviceBuffer<bf16> bx, by(n);
  bx.upload(to_bf16(xb));
  cuda::gelu_fwd<bf16>(*ctx, bx.data(), by.data(), n);
  std::vector<float> yb(n);
  kref::gelu_fwd(xb.data(), yb.data(), n);
  expect_bf16("gelu bf16", widen(by.download()), widen(round_bf16(yb)), widen(yb));
}

// gelu(x) + r in one pass: the same fp32 values as gelu then add, on the 16-byte-vector path
// (aligned buffers, odd n: vectors plus a scalar tail), the scalar path (views one element in),
// and in place; in bf16 within twice the error of rounding gelu and the sum separately.
TEST_F(CudaOps, GeluAddFusedMatchesGeluThenAdd) {
  const std::int64_t n = 100003;
  auto x = test::randn(n, 2.f, rng), r = test::randn(n, 1.f, rng);
  std::vector<float> ref(n);
  kref::gelu_fwd(x.data(), ref.data(), n);
  kref::add(ref.data(), r.data(), ref.data(), n);
  DeviceBuffer<float> gx, gr, gy(n);
  gx.upload(x), gr.upload(r);
  cuda::gelu_add_fwd<float>(*ctx, gx.data(), gr.data(), gy.data(), n);
  expect_fp32("gelu+add", gy.download(), ref, 1e-6, 1e-5);
  gy.upload(std::vector<float>(n, NAN));
  cuda::gelu_add_fwd<float>(*ctx, gx.data() + 1, gr.data() + 1, gy.data() + 1, n - 1);
  const auto shifted = gy.download();
  EXPECT_TRUE(std::isnan(shifted[0])) << "wrote before the view";
  expect_fp32("gelu+add, misaligned view", std::vector<float>(shifted.begin() + 1, shifted.end()),
              std::vector<float>(ref.begin() + 1, ref.end()), 1e-6, 1e-5);
  cuda::gelu_add_fwd<float>(*ctx, gx.data(), gr.data(), gx.data(), n);  // y aliases x
  expect_fp32("gelu+add in place", gx.download(), ref, 1e-6, 1e-5);
  cuda::add<float>(*ctx, gr.data() + 3, gr.data() + 3, gy.data() + 3, n - 3);  // scalar add path
  const auto twice = gy.download();
  for (std::int64_t i = 3; i < n; ++i) ASSERT_EQ(twice[i], 2.f * r[i]) << i;

  const auto xb = round_bf16(x), rb = round_bf16(r);
  std::vector<float> g(n);
  kref::gelu_fwd(xb.data(), g.data(), n);
  std::vector<double> exact(n), naive(n);
  for (std::int64_t i = 0; i < n; ++i) {
    exact[i] = double(g[i]) + double(rb[i]);
    naive[i] = test::bf16_round(test::bf16_round(g[i]) + rb[i]);
  }
  DeviceBuffer<bf16> bx, br, by(n);
  bx.upload(to_bf16(xb)), br.upload(to_bf16(rb));
  cuda::gelu_add_fwd<bf16>(*ctx, bx.data(), br.data(), by.data(), n);
  expect_bf16("gelu+add bf16", widen(by.download()), naive, exact);
}

TEST_F(CudaOps, LayerNormMatchesRef) {
  // C ∈ {8, 16, 32, 64, 128}: the register-row kernels; 200 and 1024: one warp per row.
  for (auto [N, C] : {std::pair<std::int64_t, int>{1001, 64}, {37, 8}, {1001, 16}, {100, 32},
                      {50, 128}, {7, 200}, {300, 1024}}) {
    SCOPED_TRACE(testing::Message() << "N=" << N << " C=" << C);
    auto x = test::randn(N * C, 3.f, rng), g = test::randn(C, 1.f, rng), be = test::randn(C, 1.f, rng),
         dy = test::randn(N * C, 1.f, rng), dx0 = test::randn(N * C, 1.f, rng),
         dg0 = test::randn(C, 1.f, rng), db0 = test::randn(C, 1.f, rng);
    for (std::int64_t n = 0; n < N; ++n) x[n * C] += 5.f;  // offset mean: tests the centring
    DeviceBuffer<float> gx, gg, gbe, gy(N * C), gm(N), gr(N), gdy, gdx, gdg, gdb;
    gx.upload(x), gg.upload(g), gbe.upload(be), gdy.upload(dy), gdx.upload(dx0), gdg.upload(dg0),
        gdb.upload(db0);
    cuda::layernorm_fwd<float>(*ctx, gx.data(), gg.data(), gbe.data(), gy.data(), gm.data(), gr.data(), N, C, 1e-5f);
    cuda::layernorm_bwd<float>(*ctx, gx.data(), gg.data(), gm.data(), gr.data(), gdy.data(), gdx.data(),
                               gdg.data(), gdb.data(), N, C);
    std::vector<float> y(N * C), m(N), r(N), dx = dx0, dg = dg0, db = db0;
    kref::layernorm_fwd(x.data(), g.data(), be.data(), y.data(), m.data(), r.data(), N, C, 1e-5f);
    kref::layernorm_bwd(x.data(), g.data(), m.data(), r.data(), dy.data(), dx.data(), dg.data(), db.data(), N, C);
    expect_fp32("y", gy.download(), y);
    expect_fp32("mean", gm.download(), m);
    expect_fp32("rstd", gr.download(), r);
    expect_fp32("dx", gdx.download(), dx);
    expect_fp32("dgamma", gdg.download(), dg);
    expect_fp32("dbeta", gdb.download(), db);
  }
}

// bf16 rows (the model's C = 64 and a head dim of 8): y and dx within twice the error of rounding
// the exact result to bf16 (the naive implementation stores exactly that), dgamma and dbeta (fp32
// sums) within fp32 accumulation error.
TEST_F(CudaOps, LayerNormBf16MatchesRef) {
  for (auto [N, C] : {std::pair<std::int64_t, int>{1001, 64}, {333, 8}, {10, 200}}) {
    SCOPED_TRACE(testing::Message() << "N=" << N << " C=" << C);
    auto x = round_bf16(test::randn(N * C, 3.f, rng)), dy = round_bf16(test::randn(N * C, 1.f, rng)),
         dx0 = round_bf16(test::randn(N * C, 1.f, rng));
    const auto g = test::randn(C, 1.f, rng), be = test::randn(C, 1.f, rng);
    DeviceBuffer<bf16> gx, gy(N * C), gdy, gdx;
    DeviceBuffer<float> gg, gbe, gm(N), gr(N), gdg(C), gdb(C);
    gx.upload(to_bf16(x)), gdy.upload(to_bf16(dy)), gdx.upload(to_bf16(dx0)), gg.upload(g),
        gbe.upload(be);
    gdg.fill_bytes(0), gdb.fill_bytes(0);
    cuda::layernorm_fwd<bf16>(*ctx, gx.data(), gg.data(), gbe.data(), gy.data(), gm.data(), gr.data(), N, C, 1e-5f);
    cuda::layernorm_bwd<bf16>(*ctx, gx.data(), gg.data(), gm.data(), gr.data(), gdy.data(), gdx.data(),
                              gdg.data(), gdb.data(), N, C);
    std::vector<float> y(N * C), m(N), r(N), dx = dx0, dg(C, 0.f), db(C, 0.f);
    kref::layernorm_fwd(x.data(), g.data(), be.data(), y.data(), m.data(), r.data(), N, C, 1e-5f);
    kref::layernorm_bwd(x.data(), g.data(), m.data(), r.data(), dy.data(), dx.data(), dg.data(), db.data(), N, C);
    expect_bf16("y", widen(gy.download()), widen(round_bf16(y)), widen(y));
    expect_bf16("dx", widen(gdx.download()), widen(round_bf16(dx)), widen(dx));
    expect_fp32("mean", gm.download(), m);
    expect_fp32("rstd", gr.download(), r);
    expect_fp32("dgamma", gdg.download(), dg);
    expect_fp32("dbeta", gdb.download(), db);
  }
}

TEST_F(CudaOps, AdamWAndSumSquaresMatchRef) {
  const std::int64_t n = 70001;
  auto p = test::randn(n, 1.f, rng), m = test::randn(n, 0.1f, rng), v = test::randn(n, 0.1f, rng);
  for (auto& x : v) x = x * x;
  DeviceBuffer<float> gp, gg, gm, gv;
  gp.upload(p), gm.upload(m), gv.upload(v), gg.resize(n);
  // Weight decay on two elements of three (decay_mask, in device memory for the kernel).
  std::vector<std::uint8_t> mask(n);
  for (std::int64_t i = 0; i < n; ++i) mask[i] = i % 3 != 0;
  DeviceBuffer<std::uint8_t> gmask;
  gmask.upload(mask);
  kernels::AdamW hp;
  hp.lr = 3e-3f;
  hp.weight_decay = 0.5f;
  for (int step = 1; step <= 3; ++step) {
    auto g = test::randn(n, 1.f, rng);
    gg.upload(g);
    hp.step = step;
    kernels::AdamW on_device = hp, on_host = hp;
    on_device.decay_mask = gmask.data();
    on_host.decay_mask = mask.data();
    cuda::adamw_step(*ctx, gp.data(), gg.data(), gm.data(), gv.data(), n, on_device);
    kref::adamw_step(p.data(), g.data(), m.data(), v.data(), n, on_host);
  }
  expect_fp32("params", gp.download(), p, 1e-6, 1e-5);
  expect_fp32("m", gm.download(), m, 1e-6, 1e-5);
  expect_fp32("v", gv.download(), v, 1e-6, 1e-5);
  const double ss = cuda::sum_squares(*ctx, gp.data(), n), ss_ref = kref::sum_squares(p.data(), n);
  EXPECT_NEAR(ss, ss_ref, 1e-5 * ss_ref);
}

// Clipping inside the step (hp.grad_sumsq, the norm the device computed, never read back) against
// the ref tier given the host's sum: the clip factor is below 1 on every step.
TEST_F(CudaOps, AdamWClipsWithTheDeviceNorm) {
  const std::int64_t n = 50003;
  auto p = test::randn(n, 1.f, rng);
  std::vector<float> m(n, 0.f), v(n, 0.f);
  DeviceBuffer<float> gp, gg, gm, gv;
  DeviceBuffer<double> gsum;
  gp.upload(p), gm.upload(m), gv.upload(v), gg.resize(n), gsum.resize(1);
  kernels::AdamW hp;
  hp.lr = 1e-2f;
  hp.clip_norm = 0.5;
  for (int step = 1; step <= 3; ++step) {
    auto g = test::randn(n, 1.f, rng);  // norm about √n ≫ 0.5
    gg.upload(g);
    hp.step = step;
    cuda::sum_squares_to(*ctx, gg.data(), n, gsum.data());
    double host_sum = kref::sum_squares(g.data(), n);
    ASSERT_LT(kernels::AdamW::clip_factor(host_sum, hp.clip_norm), 1.0f);
    kernels::AdamW on_device = hp, on_host = hp;
    on_device.grad_sumsq = gsum.data();
    on_host.grad_sumsq = &host_sum;
    cuda::adamw_step(*ctx, gp.data(), gg.data(), gm.data(), gv.data(), n, on_device);
    kref::adamw_step(p.data(), g.data(), m.data(), v.data(), n, on_host);
  }
  expect_fp32("params", gp.download(), p, 1e-6, 1e-5);
  expect_fp32("m", gm.download(), m, 1e-6, 1e-5);
  // Without clipping (the factor would be above 1) the gradients pass unchanged.
  EXPECT_EQ(kernels::AdamW::clip_factor(4.0, 10.0), 1.0f);
}

// The trainer's sample placement: a swap and sign flips of columns, exact in fp32 and bf16.
TEST_F(CudaOps, MapColumnsIsExact) {
  const std::int64_t rows = 3001;
  const int C = 7;
  const auto x = test::randn(rows * C, 1.f, rng);
  kernels::ColumnMap map = kernels::ColumnMap::identity(C);
  map.from[0] = 1, map.from[1] = 0, map.sign[1] = -1.f, map.sign[4] = -1.f;
  std::vector<float> want(rows * C);
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c) want[r * C + c] = map.sign[c] * x[r * C + map.from[c]];
  DeviceBuffer<float> gx, gy;
  gx.upload(x), gy.resize(rows * C);
  cuda::map_columns<float>(*ctx, gx.data(), gy.data(), rows, map);
  ctx->synchronize();
  EXPECT_EQ(gy.download(), want);
  const auto xb = to_bf16(x);
  DeviceBuffer<bf16> bx, by;
  bx.upload(xb), by.resize(rows * C);
  cuda::map_columns<bf16>(*ctx, bx.data(), by.data(), rows, map);
  ctx->synchronize();
  const auto got = widen(by.download()), src = widen(xb);
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c)
      ASSERT_EQ(got[r * C + c], map.sign[c] * src[r * C + map.from[c]]) << r << ", " << c;
}

// Small uploads return before the copy runs: 300 of them (several laps of the pinned ring) from
// one host buffer rewritten after each call, each into its own place, all land intact.
TEST_F(CudaOps, UploadAsyncKeepsEveryStagedCopy) {
  const int count = 300, n = 1000;
  DeviceBuffer<float> dst;
  dst.resize(std::size_t(count) * n);
  std::vector<float> src(n), want(std::size_t(count) * n);
  // The stream is held for 50 ms first, so the copies are still queued when the ring wraps: a
  // slot rewritten before its copy ran would show.
  ASSERT_EQ(cudaLaunchHostFunc(
                ctx->stream(),
                [](void*) { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }, nullptr),
            cudaSuccess);
  for (int k = 0; k < count; ++k) {
    for (int i = 0; i < n; ++i) src[i] = want[std::size_t(k) * n + i] = float(k * n + i);
    ctx->upload_async(dst.data() + std::size_t(k) * n, src.data(), n * sizeof(float));
  }
  std::fill(src.begin(), src.end(), -1.f);
  ctx->synchronize();
  EXPECT_EQ(dst.download(ctx->stream()), want);
  EXPECT_THROW(ctx->upload_async(dst.data(), want.data(), cuda::CudaContext::kStageSlotBytes + 4),
               Error);
}

TEST_F(CudaOps, LossesMatchRef) {
  const std::vector<std::int64_t> offsets{0, 1000, 1037, 4000};
  const int B = 3, T = 3;
  const std::int64_t rows = offsets.back(), n = rows * T;
  auto p = test::randn(n, 1.f, rng), t = test::randn(n, 1.f, rng), d0 = test::randn(n, 1.f, rng);
  DeviceBuffer<float> gp, gt, gd;
  DeviceBuffer<std::int64_t> go;
  gp.upload(p), gt.upload(t), gd.upload(d0), go.upload(offsets);
  const double mse = cuda::mse_fwd<float>(*ctx, gp.data(), gt.data(), n);
  EXPECT_NEAR(mse, kref::mse_fwd(p.data(), t.data(), n), 1e-6 * mse);
  cuda::mse_bwd<float>(*ctx, gp.data(), gt.data(), n, 0.7f, gd.data());
  std::vector<float> d = d0;
  kref::mse_bwd(p.data(), t.data(), n, 0.7f, d.data());
  expect_fp32("mse dpred", gd.download(), d, 1e-6, 1e-5);

  const auto err =
      cuda::rel_l2_fwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T, nullptr, nullptr);
  std::vector<double> err_ref(B);
  kref::rel_l2_fwd(p.data(), t.data(), offsets.data(), B, T, nullptr, nullptr, err_ref.data());
  for (int b = 0; b < B; ++b) EXPECT_NEAR(err[b], err_ref[b], 1e-6 * err_ref[b]) << "mesh " << b;
  gd.upload(d0);
  cuda::rel_l2_bwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T, nullptr, nullptr, 2.f,
                          gd.data());
  d = d0;
  kref::rel_l2_bwd(p.data(), t.data(), offsets.data(), B, T, nullptr, nullptr, 2.f, d.data());
  expect_fp32("rel_l2 dpred", gd.download(), d, 1e-6, 1e-5);
}

// The loss of `train --loss rel_l2`: both fields denormalised per column (std, mean) inside the
// op. Means far from zero on one column and a tiny std on another exercise both factors.
TEST_F(CudaOps, DenormalizedRelL2MatchesRef) {
  const std::vector<std::int64_t> offsets{0, 700, 701, 3000};
  const int B = 3, T = 3;
  const std::int64_t rows = offsets.back(), n = rows * T;
  auto p = test::randn(n, 1.f, rng), t = test::randn(n, 1.f, rng), d0 = test::randn(n, 1.f, rng);
  const std::vector<float> scale{2.5f, 0.01f, 1.f}, shift{-3.f, 0.2f, 40.f};
  DeviceBuffer<float> gp, gt, gd, gs, gm;
  DeviceBuffer<std::int64_t> go;
  gp.upload(p), gt.upload(t), gd.upload(d0), go.upload(offsets), gs.upload(scale), gm.upload(shift);
  const auto err = cuda::rel_l2_fwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T,
                                           gs.data(), gm.data());
  std::vector<double> err_ref(B);
  kref::rel_l2_fwd(p.data(), t.data(), offsets.data(), B, T, scale.data(), shift.data(),
                   err_ref.data());
  for (int b = 0; b < B; ++b) EXPECT_NEAR(err[b], err_ref[b], 1e-6 * err_ref[b]) << "mesh " << b;
  cuda::rel_l2_bwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T, gs.data(), gm.data(),
                          2.f, gd.data());
  std::vector<float> d = d0;
  kref::rel_l2_bwd(p.data(), t.data(), offsets.data(), B, T, scale.data(), shift.data(), 2.f,
                   d.data());
  expect_fp32("denormalised rel_l2 dpred", gd.download(), d, 1e-6, 1e-5);
  // Scale alone (no shift) is the other branch of the target term.
  const auto err_s = cuda::rel_l2_fwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T,
                                             gs.data(), nullptr);
  kref::rel_l2_fwd(p.data(), t.data(), offsets.data(), B, T, scale.data(), nullptr, err_ref.data());
  for (int b = 0; b < B; ++b) EXPECT_NEAR(err_s[b], err_ref[b], 1e-6 * err_ref[b]) << "mesh " << b;
}

TEST_F(CudaOps, EmaUpdateMatchesRef) {
  const std::int64_t n = 70001;
  auto e = test::randn(n, 1.f, rng);
  DeviceBuffer<float> ge, gp;
  ge.upload(e);
  for (int step = 0; step < 3; ++step) {
    const auto p = test::randn(n, 1.f, rng);
    gp.upload(p);
    cuda::ema_update(*ctx, ge.data(), gp.data(), n, 0.999);
    kref::ema_update(e.data(), p.data(), n, 0.999);
  }
  expect_fp32("ema", ge.download(), e, 1e-6, 1e-6);
}

// A mesh whose target is all zero: the ref tier's err is inf (p != t) or NaN (p = t = 0), and its
// gradient inf or 0; the GPU must not report such a mesh as perfect (it used to return 0).
TEST_F(CudaOps, RelL2OfAZeroTargetIsUndefinedAsInRef) {
  const std::vector<std::int64_t> offsets{0, 40, 90, 130};
  const int B = 3, T = 3;
  const std::int64_t rows = offsets.back(), n = rows * T;
  auto p = test::randn(n, 1.f, rng), t = test::randn(n, 1.f, rng), d0 = test::randn(n, 1.f, rng);
  for (std::int64_t i = offsets[1] * T; i < n; ++i) t[i] = 0.f;   // meshes 1 and 2
  for (std::int64_t i = offsets[2] * T; i < n; ++i) p[i] = 0.f;   // mesh 2: p = t = 0
  DeviceBuffer<float> gp, gt, gd;
  DeviceBuffer<std::int64_t> go;
  gp.upload(p), gt.upload(t), gd.upload(d0), go.upload(offsets);
  const auto err =
      cuda::rel_l2_fwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T, nullptr, nullptr);
  std::vector<double> err_ref(B);
  kref::rel_l2_fwd(p.data(), t.data(), offsets.data(), B, T, nullptr, nullptr, err_ref.data());
  EXPECT_NEAR(err[0], err_ref[0], 1e-6 * err_ref[0]);
  EXPECT_TRUE(std::isinf(err[1]) && std::isinf(err_ref[1])) << err[1] << " " << err_ref[1];
  EXPECT_TRUE(std::isnan(err[2]) && std::isnan(err_ref[2])) << err[2] << " " << err_ref[2];
  cuda::rel_l2_bwd<float>(*ctx, gp.data(), gt.data(), go.data(), B, rows, T, nullptr, nullptr, 2.f,
                          gd.data());
  std::vector<float> d = d0;
  kref::rel_l2_bwd(p.data(), t.data(), offsets.data(), B, T, nullptr, nullptr, 2.f, d.data());
  const auto g = gd.download();
  for (std::int64_t i = 0; i < n; ++i) {
    if (i < offsets[1] * T) {
      EXPECT_NEAR(g[i], d[i], 1e-6 + 1e-5 * std::fabs(d[i])) << i;
    } else {
      ASSERT_EQ(g[i], d[i]) << i;  // inf of the sign of p (mesh 1), unchanged d0 (mesh 2)
    }
  }
}

TEST_F(CudaOps, ErrorsAreExceptionsWithContext) {
  try {
    FLARE_CUDA_CHECK(cudaMemcpy(nullptr, reinterpret_cast<void*>(16), 8, cudaMemcpyDeviceToHost));
    FAIL() << "expected a throw";
  } catch (const flare::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cudaMemcpy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_cuda_ops.cpp"), std::string::npos) << msg;
  }
  // Asking for a petabyte: an InputError that names the size and says what to try.
  try {
    DeviceBuffer<float> huge(std::size_t(1) << 48, "activations");
    FAIL() << "expected out of memory";
  } catch (const flare::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of GPU memory allocating activations"), std::string::npos) << msg;
    EXPECT_NE(msg.find("try"), std::string::npos) << msg;
  }
  const auto before = cuda::alloc_stats();
  {
    DeviceBuffer<float> a(1000), b(0);
    EXPECT_EQ(cuda::alloc_stats().count, before.count + 1);  // the empty buffer allocates nothing
    EXPECT_EQ(cuda::alloc_stats().bytes_now, before.bytes_now + 4000);
  }
  EXPECT_EQ(cuda::alloc_stats().bytes_now, before.bytes_now);
}

}  // namespace
