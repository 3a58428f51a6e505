// The CUDA FLARE mixer against the fp64 host reference over awkward shapes: N not a multiple of
// any tile, several meshes with an empty one, M in {1, 16, 48, 64, 100, 256}, D in {8, 16, 32, 64}.
// bf16 runs every case through both kernel versions (tensor cores where the shape allows, forward
// and backward; CUDA cores).
// fp32: every element within atol + |ref|·eps. bf16: max error vs fp64 at most 2x that of a naive
// bf16 implementation (flash-attention's rule). Outputs are poisoned with NaN before each run;
// gradients are pre-filled so the += contract is checked too.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "kernels/cuda/flare_mixer.cuh"
#include "kernels/ref/flare_decode.h"
#include "kernels/ref/flare_encode.h"
#include "tests/cuda/host_reference.h"

using namespace flare;
using flare::cuda::bf16;
using flare::cuda::DeviceBuffer;

namespace {

struct Case {
  std::vector<std::int64_t> sizes;  // points per mesh
  int H, M, D;
  float scale;
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  os << "sizes=";
  for (auto s : c.sizes) os << s << ",";
  return os << " H=" << c.H << " M=" << c.M << " D=" << c.D << " s=" << c.scale;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

template <typename T>
std::vector<T> convert(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<T, bf16>)
      out[i] = test::to_bf16(v[i]);
    else
      out[i] = v[i];
  }
  return out;
}
using test::widen;

struct Inputs {
  test::MixerRef r;
  std::int64_t N;
  std::vector<float> Q, K, V, dY, dZ_in, pre_q, pre_k, pre_v, pre_z;
};

Inputs make_inputs(const Case& c, unsigned seed, bool round_bf16) {
  std::mt19937 rng(seed);
  Inputs in;
  in.r.B = int(c.sizes.size());
  in.r.H = c.H;
  in.r.M = c.M;
  in.r.D = c.D;
  in.r.scale = c.scale;
  in.r.offsets.assign(1, 0);
  for (auto s : c.sizes) in.r.offsets.push_back(in.r.offsets.back() + s);
  in.N = in.r.offsets.back();
  const std::size_t NC = std::size_t(in.N) * c.H * c.D, HMD = std::size_t(c.H) * c.M * c.D;
  in.Q = test::randn(HMD, 0.5f, rng);
  in.K = test::randn(NC, 1.f, rng);
  in.V = test::randn(NC, 1.f, rng);
  in.dY = test::randn(NC, 1.f, rng);
  in.dZ_in = test::randn(in.r.B * HMD, 1.f, rng);
  in.pre_q = test::randn(HMD, 1.f, rng);
  in.pre_z = test::randn(in.r.B * HMD, 1.f, rng);
  // bf16 gradients start at 0 so the naive reference needs no extra rounding of the prefill.
  in.pre_k = round_bf16 ? std::vector<float>(NC, 0.f) : test::randn(NC, 1.f, rng);
  in.pre_v = round_bf16 ? std::vector<float>(NC, 0.f) : test::randn(NC, 1.f, rng);
  if (round_bf16)
    for (auto* v : {&in.K, &in.V, &in.dY})
      for (auto& x : *v) x = test::bf16_round(x);
  return in;
}

// Everything the GPU computes for one case.
template <typename T>
struct GpuResult {
  std::vector<float> Z, lse_enc, lse_dec;
  std::vector<T> Y;
  std::vector<float> dQ1, dZ1, dQ2, dQ3, dZ3;
  std::vector<T> dK1, dK2, dV2, dK3, dV3;
};

template <typename T>
GpuResult<T> run_gpu(cuda::CudaContext& ctx, const Inputs& in, const std::vector<float>& pre_k,
                     const std::vector<float>& pre_v, bool tensor_cores);

template <typename T>
GpuResult<T> run_gpu(cuda::CudaContext& ctx, const Inputs& in, bool tensor_cores = true) {
  return run_gpu<T>(ctx, in, in.pre_k, in.pre_v, tensor_cores);
}

// pre_k, pre_v: what dK and dV hold before each backward (the += contract).
template <typename T>
GpuResult<T> run_gpu(cuda::CudaContext& ctx, const Inputs& in, const std::vector<float>& pre_k,
                     const std::vector<float>& pre_v, bool tensor_cores) {
  const auto& r = in.r;
  auto st = ctx.stream();
  DeviceBuffer<std::int64_t> offsets;
  offsets.upload(r.offsets);
  cuda::PackedBatch batch{offsets.data(), r.B, 0, in.N};
  for (int b = 0; b < r.B; ++b)
    batch.max_points = std::max(batch.max_points, r.offsets[b + 1] - r.offsets[b]);
  cuda::MixerShape shape{r.H, r.M, r.D, float(r.scale), tensor_cores};
  const bool bf16_tensors = std::is_same_v<T, bf16>;
  EXPECT_EQ(cuda::mixer_bwd_uses_tensor_cores(ctx, shape, bf16_tensors),
            bf16_tensors && tensor_cores && r.M % 16 == 0)
      << "tensor-core backward not taken where the shape allows it (or taken where it must not)";
  const std::size_t NC = std::size_t(in.N) * r.C(), BHMD = std::size_t(r.B) * r.H * r.M * r.D;

  DeviceBuffer<float> Q, Z(BHMD), lse_e(std::size_t(r.B) * r.H * r.M), lse_d(in.N * r.H);
  DeviceBuffer<T> K, V, dY, Y(NC);
  Q.upload(in.Q);
  K.upload(convert<T>(in.K));
  V.upload(convert<T>(in.V));
  dY.upload(convert<T>(in.dY));
  for (auto* b : {&Z, &lse_e, &lse_d}) b->fill_bytes(0xFF, st);
  Y.fill_bytes(0xFF, st);

  cuda::flare_encode_fwd<T>(ctx, Q.data(), K.data(), V.data(), batch, shape, Z.data(),
                            lse_e.data());
  cuda::flare_decode_fwd<T>(ctx, Q.data(), K.data(), Z.data(), batch, shape, Y.data(),
                            lse_d.data());

  GpuResult<T> out;
  DeviceBuffer<float> dQ, dZ, dZ_in;
  DeviceBuffer<T> dK, dV;
  dZ_in.upload(in.dZ_in);
  // Separate decode backward.
  dQ.upload(in.pre_q);
  dZ.upload(in.pre_z);
  dK.upload(convert<T>(pre_k));
  cuda::flare_decode_bwd<T>(ctx, Q.data(), K.data(), Z.data(), lse_d.data(), dY.data(),
                            batch, shape, dQ.data(), dK.data(), dZ.data());
  out.dQ1 = dQ.download(st);
  out.dZ1 = dZ.download(st);
  out.dK1 = dK.download(st);
  // Separate encode backward, from an independent random dZ.
  dQ.upload(in.pre_q);
  dK.upload(convert<T>(pre_k));
  dV.upload(convert<T>(pre_v));
  cuda::flare_encode_bwd<T>(ctx, Q.data(), K.data(), V.data(), Z.data(), lse_e.data(),
                            dZ_in.data(), batch, shape, dQ.data(), dK.data(), dV.data());
  out.dQ2 = dQ.download(st);
  out.dK2 = dK.download(st);
  out.dV2 = dV.download(st);
  // Fused whole-mixer backward.
  dQ.upload(in.pre_q);
  dK.upload(convert<T>(pre_k));
  dV.upload(convert<T>(pre_v));
  dZ.fill_bytes(0xFF, st);
  cuda::flare_mixer_bwd<T>(ctx, Q.data(), K.data(), V.data(), Z.data(), lse_e.data(),
                           lse_d.data(), dY.data(), batch, shape, dQ.data(), dK.data(), dV.data(),
                           dZ.data());
  out.dQ3 = dQ.download(st);
  out.dK3 = dK.download(st);
  out.dV3 = dV.download(st);
  out.dZ3 = dZ.download(st);

  out.Z = Z.download(st);
  out.lse_enc = lse_e.download(st);
  out.lse_dec = lse_d.download(st);
  out.Y = Y.download(st);
  return out;
}

// The host side of the same computation (fp64, or naive bf16 with rnd.bf16).
struct HostResult {
  std::vector<double> Z, lse_enc, Y, lse_dec, dQ1, dK1, dZ1, dQ2, dK2, dV2, dQ3, dK3, dV3, dZ3;
};

// fp64 oracle: the ref tier (kernels/ref, templates evaluated in double).
HostResult run_ref(const Inputs& in) {
  namespace ri = kernels::ref::impl;
  const auto& r = in.r;
  const std::int64_t* off = r.offsets.data();
  const double s = r.scale;
  HostResult o;
  auto Q = to_double(in.Q), K = to_double(in.K), V = to_double(in.V), dY = to_double(in.dY);
  const std::size_t BHM = std::size_t(r.B) * r.H * r.M, NC = std::size_t(in.N) * r.C();
  o.Z.assign(BHM * r.D, 0.0);
  o.lse_enc.assign(BHM, 0.0);
  o.Y.assign(NC, 0.0);
  o.lse_dec.assign(std::size_t(in.N) * r.H, 0.0);
  ri::flare_encode_fwd<double>(Q.data(), K.data(), V.data(), off, r.B, r.H, r.M, r.D, s,
                               o.Z.data(), o.lse_enc.data());
  ri::flare_decode_fwd<double>(Q.data(), K.data(), o.Z.data(), off, r.B, r.H, r.M, r.D, s,
                               o.Y.data(), o.lse_dec.data());
  o.dQ1 = to_double(in.pre_q);
  o.dZ1 = to_double(in.pre_z);
  o.dK1 = to_double(in.pre_k);
  ri::flare_decode_bwd<double>(Q.data(), K.data(), o.Z.data(), o.Y.data(), o.lse_dec.data(),
                               dY.data(), off, r.B, r.H, r.M, r.D, s, o.dQ1.data(), o.dK1.data(),
                               o.dZ1.data());
  const auto dZ_in = to_double(in.dZ_in);
  o.dQ2 = to_double(in.pre_q);
  o.dK2 = to_double(in.pre_k);
  o.dV2 = to_double(in.pre_v);
  ri::flare_encode_bwd<double>(Q.data(), K.data(), V.data(), o.Z.data(), o.lse_enc.data(),
                               dZ_in.data(), off, r.B, r.H, r.M, r.D, s, o.dQ2.data(),
                               o.dK2.data(), o.dV2.data());
  o.dQ3 = to_double(in.pre_q);
  o.dK3 = to_double(in.pre_k);
  o.dV3 = to_double(in.pre_v);
  o.dZ3.assign(BHM * r.D, 0.0);
  ri::flare_decode_bwd<double>(Q.data(), K.data(), o.Z.data(), o.Y.data(), o.lse_dec.data(),
                               dY.data(), off, r.B, r.H, r.M, r.D, s, o.dQ3.data(), o.dK3.data(),
                               o.dZ3.data());
  ri::flare_encode_bwd<double>(Q.data(), K.data(), V.data(), o.Z.data(), o.lse_enc.data(),
                               o.dZ3.data(), off, r.B, r.H, r.M, r.D, s, o.dQ3.data(),
                               o.dK3.data(), o.dV3.data());
  return o;
}

// Naive bf16 (host_reference.h): intermediates and point-sized outputs rounded to bf16.
HostResult run_naive_bf16(const Inputs& in) {
  const auto& r = in.r;
  const test::Rounding rnd{true};
  HostResult o;
  auto Q = to_double(in.Q), K = to_double(in.K), V = to_double(in.V), dY = to_double(in.dY);
  test::ref_encode_fwd(r, Q, K, V, o.Z, o.lse_enc, rnd);
  test::ref_decode_fwd(r, Q, K, o.Z, o.Y, o.lse_dec, rnd);
  o.dQ1 = to_double(in.pre_q);
  o.dZ1 = to_double(in.pre_z);
  o.dK1 = to_double(in.pre_k);
  test::ref_decode_bwd(r, Q, K, o.Z, dY, o.dQ1, o.dK1, o.dZ1, rnd);
  o.dQ2 = to_double(in.pre_q);
  o.dK2 = to_double(in.pre_k);
  o.dV2 = to_double(in.pre_v);
  test::ref_encode_bwd(r, Q, K, V, to_double(in.dZ_in), o.dQ2, o.dK2, o.dV2, rnd);
  o.dQ3 = to_double(in.pre_q);
  o.dK3 = to_double(in.pre_k);
  o.dV3 = to_double(in.pre_v);
  o.dZ3.assign(o.Z.size(), 0.0);
  test::ref_decode_bwd(r, Q, K, o.Z, dY, o.dQ3, o.dK3, o.dZ3, rnd);
  test::ref_encode_bwd(r, Q, K, V, o.dZ3, o.dQ3, o.dK3, o.dV3, rnd);
  for (auto* v : {&o.Y, &o.dK1, &o.dK2, &o.dV2, &o.dK3, &o.dV3})
    for (auto& x : *v) x = test::bf16_round(float(x));
  return o;
}

class CudaMixer : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

// fp32 tolerance: atol relative to the tensor's scale (sums over up to N terms in fp32), eps on top.
template <typename A>
void expect_fp32(const char* name, const std::vector<A>& got, const std::vector<double>& ref) {
  const auto d = test::diff(got, ref);
  EXPECT_FALSE(d.has_nan) << name << " has NaN (unwritten element?)";
  EXPECT_EQ(test::check_close(name, got, ref, 3e-5 * std::max(1.0, d.max_ref), 1e-4), "");
}

TEST_P(CudaMixer, Fp32MatchesReference) {
  const Case c = GetParam();
  cuda::CudaContext ctx;
  const Inputs in = make_inputs(c, 1234, false);
  const auto g = run_gpu<float>(ctx, in);
  const auto h = run_ref(in);
  expect_fp32("Z", g.Z, h.Z);
  expect_fp32("lse_enc", g.lse_enc, h.lse_enc);
  expect_fp32("Y", g.Y, h.Y);
  expect_fp32("lse_dec", g.lse_dec, h.lse_dec);
  expect_fp32("decode dQ", g.dQ1, h.dQ1);
  expect_fp32("decode dK", g.dK1, h.dK1);
  expect_fp32("decode dZ", g.dZ1, h.dZ1);
  expect_fp32("encode dQ", g.dQ2, h.dQ2);
  expect_fp32("encode dK", g.dK2, h.dK2);
  expect_fp32("encode dV", g.dV2, h.dV2);
  expect_fp32("mixer dQ", g.dQ3, h.dQ3);
  expect_fp32("mixer dK", g.dK3, h.dK3);
  expect_fp32("mixer dV", g.dV3, h.dV3);
  expect_fp32("mixer dZ", g.dZ3, h.dZ3);
}

// bf16: max |cuda − fp64| ≤ 2·max |naive bf16 − fp64| (+ a floor of 1e-6 of the tensor's scale for
// outputs where the naive error is exactly zero).
template <typename A>
void expect_bf16(const char* name, const std::vector<A>& got, const std::vector<double>& naive,
                 const std::vector<double>& ref) {
  const auto dg = test::diff(widen(got), ref);
  const auto dn = test::diff(naive, ref);
  EXPECT_FALSE(dg.has_nan) << name << " has NaN";
  EXPECT_LE(dg.max_abs, 2 * dn.max_abs + 1e-6 * std::max(1.0, dg.max_ref))
      << name << ": cuda max err " << dg.max_abs << " at " << dg.at << ", naive bf16 max err "
      << dn.max_abs << " (scale " << dg.max_ref << ")";
}

TEST_P(CudaMixer, Bf16WithinTwiceNaiveError) {
  const Case c = GetParam();
  cuda::CudaContext ctx;
  const Inputs in = make_inputs(c, 99, true);
  const auto ref = run_ref(in);
  const auto naive = run_naive_bf16(in);
  // Both kernel versions: tensor cores (v2, where the shape allows) and CUDA cores (v1).
  for (bool tc : {true, false}) {
  SCOPED_TRACE(tc ? "tensor-core kernels" : "CUDA-core kernels");
  const auto g = run_gpu<bf16>(ctx, in, tc);
  expect_bf16("Z", g.Z, naive.Z, ref.Z);
  expect_bf16("Y", g.Y, naive.Y, ref.Y);
  expect_bf16("lse_dec", g.lse_dec, naive.lse_dec, ref.lse_dec);
  expect_bf16("decode dQ", g.dQ1, naive.dQ1, ref.dQ1);
  expect_bf16("decode dK", g.dK1, naive.dK1, ref.dK1);
  expect_bf16("decode dZ", g.dZ1, naive.dZ1, ref.dZ1);
  expect_bf16("encode dQ", g.dQ2, naive.dQ2, ref.dQ2);
  expect_bf16("encode dK", g.dK2, naive.dK2, ref.dK2);
  expect_bf16("encode dV", g.dV2, naive.dV2, ref.dV2);
  expect_bf16("mixer dQ", g.dQ3, naive.dQ3, ref.dQ3);
  expect_bf16("mixer dK", g.dK3, naive.dK3, ref.dK3);
  expect_bf16("mixer dV", g.dV3, naive.dV3, ref.dV3);
  }
}

// The += contract of the bf16 point-sized gradients (dK, dV start from zero in the accuracy test
// so the naive reference needs no rounding of a prefill): with a random bf16 prefill P the result
// must be P + (the gradient from a zero prefill) up to one bf16 rounding of each (unit roundoff
// 2^-8: |r − (P + g0)| ≤ 2^-8·|P + g| + 2^-8·|g| ≤ 2^-7·(|P| + |g0|) to first order). Overwriting
// instead of accumulating misses by |P|, adding twice by |g0|.
TEST_P(CudaMixer, Bf16PointGradientsAccumulate) {
  const Case c = GetParam();
  cuda::CudaContext ctx;
  const Inputs in = make_inputs(c, 7, true);
  std::mt19937 rng(8);
  const std::size_t NC = std::size_t(in.N) * c.H * c.D;
  auto pre_k = test::randn(NC, 1.f, rng), pre_v = test::randn(NC, 1.f, rng);
  for (auto* v : {&pre_k, &pre_v})
    for (auto& x : *v) x = test::bf16_round(x);
  for (bool tc : {true, false}) {
    SCOPED_TRACE(tc ? "tensor-core kernels" : "CUDA-core kernels");
    const auto g0 = run_gpu<bf16>(ctx, in, in.pre_k, in.pre_v, tc);
    const auto g1 = run_gpu<bf16>(ctx, in, pre_k, pre_v, tc);
    auto check = [&](const char* name, const std::vector<bf16>& got, const std::vector<bf16>& zero,
                     const std::vector<float>& pre) {
      std::size_t bad = 0, first = 0;
      for (std::size_t i = 0; i < pre.size(); ++i) {
        const double g = test::from_bf16(zero[i]), r = test::from_bf16(got[i]);
        if (!(std::fabs(r - (pre[i] + g)) <= 0x1p-7 * 1.01 * (std::fabs(pre[i]) + std::fabs(g)) + 1e-30))
          if (bad++ == 0) first = i;
      }
      EXPECT_EQ(bad, 0u) << name << ": first at " << first << " got "
                         << test::from_bf16(got[first]) << ", prefill " << pre[first]
                         << " + gradient " << test::from_bf16(zero[first]);
    };
    check("decode dK", g1.dK1, g0.dK1, pre_k);
    check("encode dK", g1.dK2, g0.dK2, pre_k);
    check("encode dV", g1.dV2, g0.dV2, pre_v);
    check("mixer dK", g1.dK3, g0.dK3, pre_k);
    check("mixer dV", g1.dV3, g0.dV3, pre_v);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaMixer,
    ::testing::Values(Case{{1000}, 2, 64, 32, 1.f},            // one mesh, default-like
                      Case{{37, 300}, 3, 1, 8, 1.f},           // M = 1, two meshes
                      Case{{50, 0, 129}, 2, 256, 16, 1.f},     // empty mesh in the middle, M = 256
                      Case{{5}, 1, 64, 64, 0.125f},            // N below one tile, D = 64, s = 1/√D
                      Case{{4099}, 2, 100, 8, 1.f},            // many chunks, M not a power of 2
                      Case{{700, 33}, 1, 256, 64, 1.f},        // M = 256 with D = 64 (large smem)
                      Case{{77, 200}, 2, 48, 32, 1.f},         // bf16 tensor cores, partial chunk
                      Case{{300, 41}, 2, 64, 8, 1.f},          // D = 8: the m16n8k8 score path
                      Case{{20, 0, 333}, 2, 16, 8, 0.35f},     // M = 16: one latent step, empty mesh
                      Case{{1500, 17}, 3, 16, 64, 0.125f},     // M = 16 with D = 64, B = 2
                      Case{{5000, 260}, 2, 64, 16, 1.f},       // D = 16, many chunks and point blocks
                      Case{{0, 611}, 1, 256, 8, 0.3535f},      // M = 256, D = 8, empty first mesh
                      Case{{2, 130}, 2, 256, 32, 1.f}));       // M = 256, D = 32, a 2-point mesh

TEST(CudaMixerApi, RejectsUnsupportedHeadDim) {
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaContext ctx;
  DeviceBuffer<std::int64_t> offsets;
  offsets.upload(std::vector<std::int64_t>{0, 10});
  cuda::PackedBatch batch{offsets.data(), 1, 10, 10};
  EXPECT_THROW(cuda::flare_encode_fwd<float>(ctx, nullptr, nullptr, nullptr, batch,
                                              cuda::MixerShape{2, 4, 12, 1.f}, nullptr, nullptr),
               flare::Error);
}

TEST(CudaMixerApi, NoAllocationOnRepeatedCalls) {
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaContext ctx;
  const Inputs in = make_inputs(Case{{3000}, 2, 64, 16, 1.f}, 5, false);
  // First run sizes the scratch; the counted second run must allocate only its own test buffers.
  run_gpu<float>(ctx, in);
  const auto before = cuda::alloc_stats().count;
  std::vector<std::int64_t> offs{0, 3000};
  DeviceBuffer<std::int64_t> o;
  o.upload(offs);
  DeviceBuffer<float> Q(2 * 64 * 16), K(3000 * 32), V(3000 * 32), Z(2 * 64 * 16), le(2 * 64),
      Y(3000 * 32), ld(3000 * 2), dY(3000 * 32), dQ(2 * 64 * 16), dK(3000 * 32), dV(3000 * 32),
      dZ(2 * 64 * 16);
  for (auto* b : {&Q, &K, &V, &dY}) b->fill_bytes(0, ctx.stream());
  const auto after_setup = cuda::alloc_stats().count;
  EXPECT_EQ(after_setup - before, 13);
  cuda::PackedBatch batch{o.data(), 1, 3000, 3000};
  cuda::MixerShape shape{2, 64, 16, 1.f};
  for (int step = 0; step < 3; ++step) {
    cuda::flare_encode_fwd<float>(ctx, Q.data(), K.data(), V.data(), batch, shape, Z.data(), le.data());
    cuda::flare_decode_fwd<float>(ctx, Q.data(), K.data(), Z.data(), batch, shape, Y.data(), ld.data());
    cuda::flare_mixer_bwd<float>(ctx, Q.data(), K.data(), V.data(), Z.data(), le.data(),
                                 ld.data(), dY.data(), batch, shape, dQ.data(), dK.data(),
                                 dV.data(), dZ.data());
  }
  ctx.synchronize();
  EXPECT_EQ(cuda::alloc_stats().count, after_setup) << "cudaMalloc inside a mixer step";
}

}  // namespace
