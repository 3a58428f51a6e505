// The FLARE mixer (encode and decode, forward and backward): cpu ≈ ref over a sweep of shapes,
// stability with scores in the hundreds, invariances (point permutation, batch = separate meshes).
//
// Tolerance rule: a mixer output is a softmax-weighted sum, so its fp32 error has two parts:
//  - rounding of the reduction (over R = points or latents): 8·ε·√R relative to the output size;
//  - rounding of the scores, which the exponential turns into a relative error of the weights:
//    δS ≈ ε·|s|·√D·max|q|·max|k| (with a factor 8).
// atol = (8·ε·√R + 8·ε·|s|·√D·max|q|·max|k|)·max|ref|, rtol = 4·ε.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>
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
using Offsets = std::vector<std::int64_t>;

namespace {

struct MixerCase {
  int H, M, D;
  Offsets off;
  float scale;
  double sigma_qk;  // std of the entries of Q and K
  int B() const { return int(off.size()) - 1; }
  std::int64_t N() const { return off.back(); }
  int C() const { return H * D; }
};

Offsets offsets_of(const std::vector<std::int64_t>& sizes) {
  Offsets off(1, 0);
  for (auto s : sizes) off.push_back(off.back() + s);
  return off;
}

struct MixerData {
  Vec Q, K, V, Z, dZ, dY;
  explicit MixerData(const MixerCase& c, unsigned seed)
      : Q(randn(std::size_t(c.H) * c.M * c.D, seed + 1, c.sigma_qk)),
        K(randn(c.N() * c.C(), seed + 2, c.sigma_qk)),
        V(randn(c.N() * c.C(), seed + 3)),
        Z(randn(std::size_t(c.B()) * c.H * c.M * c.D, seed + 4)),
        dZ(randn(Z.size(), seed + 5)),
        dY(randn(K.size(), seed + 6)) {}
};

double atol_for(const MixerCase& c, const MixerData& d, double R, double magnitude) {
  const double score_err =
      8 * kEps32 * std::fabs(c.scale) * std::sqrt(c.D) * max_abs(d.Q) * max_abs(d.K);
  return (8 * kEps32 * std::sqrt(std::max(R, 1.0)) + score_err) * magnitude;
}

std::int64_t max_mesh(const Offsets& off) {
  std::int64_t m = 1;
  for (std::size_t b = 0; b + 1 < off.size(); ++b) m = std::max(m, off[b + 1] - off[b]);
  return m;
}

bool all_finite(const Vec& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Runs all four mixer ops in both tiers and compares every output.
void check_mixer(const MixerCase& c, unsigned seed, bool expect_finite) {
  const MixerData d(c, seed);
  const int B = c.B(), H = c.H, M = c.M, D = c.D;
  const std::int64_t N = c.N(), Nmax = max_mesh(c.off);

  Vec Z_ref(d.Z.size()), Z_cpu(d.Z.size(), 9.f), le_ref(std::size_t(B) * H * M),
      le_cpu(le_ref.size(), 9.f);
  ref::flare_encode_fwd(d.Q.data(), d.K.data(), d.V.data(), c.off.data(), B, H, M, D, c.scale,
                        Z_ref.data(), le_ref.data());
  cpu::flare_encode_fwd(d.Q.data(), d.K.data(), d.V.data(), c.off.data(), B, H, M, D, c.scale,
                        Z_cpu.data(), le_cpu.data());
  EXPECT_TRUE(
      all_close("encode Z", Z_cpu, Z_ref, atol_for(c, d, double(Nmax), max_abs(d.V)), 4 * kEps32));
  EXPECT_TRUE(
      all_close("encode lse", le_cpu, le_ref, atol_for(c, d, double(Nmax), 1.0), 4 * kEps32));

  Vec Y_ref(d.K.size()), Y_cpu(d.K.size(), 9.f), ld_ref(N * H), ld_cpu(N * H, 9.f);
  ref::flare_decode_fwd(d.Q.data(), d.K.data(), d.Z.data(), c.off.data(), B, H, M, D, c.scale,
                        Y_ref.data(), ld_ref.data());
  cpu::flare_decode_fwd(d.Q.data(), d.K.data(), d.Z.data(), c.off.data(), B, H, M, D, c.scale,
                        Y_cpu.data(), ld_cpu.data());
  EXPECT_TRUE(all_close("decode Y", Y_cpu, Y_ref, atol_for(c, d, M, max_abs(d.Z)), 4 * kEps32));
  EXPECT_TRUE(all_close("decode lse", ld_cpu, ld_ref, atol_for(c, d, M, 1.0), 4 * kEps32));

  // Backward from the ref forward's saved tensors, into gradient buffers with random contents.
  {
    Vec dQ_ref = randn(d.Q.size(), seed + 7), dK_ref = randn(d.K.size(), seed + 8),
        dV_ref = randn(d.V.size(), seed + 9);
    Vec dQ_cpu = dQ_ref, dK_cpu = dK_ref, dV_cpu = dV_ref;
    ref::flare_encode_bwd(d.Q.data(), d.K.data(), d.V.data(), Z_ref.data(), le_ref.data(),
                          d.dZ.data(), c.off.data(), B, H, M, D, c.scale, dQ_ref.data(),
                          dK_ref.data(), dV_ref.data());
    cpu::flare_encode_bwd(d.Q.data(), d.K.data(), d.V.data(), Z_ref.data(), le_ref.data(),
                          d.dZ.data(), c.off.data(), B, H, M, D, c.scale, dQ_cpu.data(),
                          dK_cpu.data(), dV_cpu.data());
    EXPECT_TRUE(all_close("encode dQ", dQ_cpu, dQ_ref, atol_for(c, d, double(N), max_abs(dQ_ref)),
                          4 * kEps32));
    EXPECT_TRUE(
        all_close("encode dK", dK_cpu, dK_ref, atol_for(c, d, M, max_abs(dK_ref)), 4 * kEps32));
    EXPECT_TRUE(
        all_close("encode dV", dV_cpu, dV_ref, atol_for(c, d, M, max_abs(dV_ref)), 4 * kEps32));
    if (expect_finite) EXPECT_TRUE(all_finite(dQ_cpu) && all_finite(dK_cpu) && all_finite(dV_cpu));
  }
  {
    Vec dQ_ref = randn(d.Q.size(), seed + 10), dK_ref = randn(d.K.size(), seed + 11),
        dZ_ref = randn(d.Z.size(), seed + 12);
    Vec dQ_cpu = dQ_ref, dK_cpu = dK_ref, dZ_cpu = dZ_ref;
    ref::flare_decode_bwd(d.Q.data(), d.K.data(), d.Z.data(), Y_ref.data(), ld_ref.data(),
                          d.dY.data(), c.off.data(), B, H, M, D, c.scale, dQ_ref.data(),
                          dK_ref.data(), dZ_ref.data());
    cpu::flare_decode_bwd(d.Q.data(), d.K.data(), d.Z.data(), Y_ref.data(), ld_ref.data(),
                          d.dY.data(), c.off.data(), B, H, M, D, c.scale, dQ_cpu.data(),
                          dK_cpu.data(), dZ_cpu.data());
    EXPECT_TRUE(all_close("decode dQ", dQ_cpu, dQ_ref, atol_for(c, d, double(N), max_abs(dQ_ref)),
                          4 * kEps32));
    EXPECT_TRUE(
        all_close("decode dK", dK_cpu, dK_ref, atol_for(c, d, M, max_abs(dK_ref)), 4 * kEps32));
    EXPECT_TRUE(all_close("decode dZ", dZ_cpu, dZ_ref,
                          atol_for(c, d, double(Nmax), max_abs(dZ_ref)), 4 * kEps32));
    if (expect_finite) EXPECT_TRUE(all_finite(dQ_cpu) && all_finite(dK_cpu) && all_finite(dZ_cpu));
  }
  if (expect_finite) {
    EXPECT_TRUE(all_finite(Z_cpu) && all_finite(Y_cpu) && all_finite(ld_cpu));
    for (int b = 0; b < B; ++b)
      if (c.off[b + 1] > c.off[b])
        for (int i = 0; i < H * M; ++i)
          EXPECT_TRUE(std::isfinite(le_cpu[std::size_t(b) * H * M + i]));
  }
}

}  // namespace

// (M, D, mesh layout). Layouts: 0 = a 1-point mesh beside 300 points (the cpu tile is 128 points),
// H = 2; 1 = one mesh smaller than a tile, H = 1; 2 = 129 points, an empty mesh, 5 points, H = 3.
class MixerShapes : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(MixerShapes, CpuMatchesRef) {
  const auto [M, D, layout] = GetParam();
  MixerCase c;
  c.M = M;
  c.D = D;
  c.sigma_qk = 1.0 / std::sqrt(std::sqrt(double(D)));  // scores ~ N(0, 1) at scale 1
  switch (layout) {
    case 0:
      c.H = 2, c.off = offsets_of({1, 300}), c.scale = 1.0f;
      break;
    case 1:
      c.H = 1, c.off = offsets_of({57}), c.scale = 1.0f / std::sqrt(float(D));
      break;
    default:
      c.H = 3, c.off = offsets_of({129, 0, 5}), c.scale = 0.8f;
      break;
  }
  check_mixer(c, 100 + M + D + layout, false);
}

INSTANTIATE_TEST_SUITE_P(Sweep, MixerShapes,
                         ::testing::Combine(::testing::Values(1, 64, 256),
                                            ::testing::Values(8, 16, 32, 64),
                                            ::testing::Values(0, 1, 2)));

// Scale 1 with entries of Q and K ~ N(0, 4²) at D = 32: |q|, |k| ≈ 23 and scores reach several
// hundred. A softmax without max subtraction overflows (e^89 is inf in fp32).
TEST(MixerStability, HugeScoresStayFiniteAndAccurate) {
  MixerCase c{2, 64, 32, offsets_of({700, 1}), 1.0f, 4.0};
  const MixerData d(c, 7);
  double smax = 0;
  for (int m = 0; m < c.M; ++m)
    for (std::int64_t n = 0; n < c.N(); ++n) {
      double s = 0;
      for (int k = 0; k < c.D; ++k) s += d.Q[m * c.D + k] * d.K[n * c.C() + k];
      smax = std::max(smax, std::fabs(s));
    }
  ASSERT_GT(smax, 200.0) << "the test must exercise scores in the hundreds";
  check_mixer(c, 7, true);
}

// FLARE is permutation-equivariant over the points of a mesh: permuting them permutes decode
// outputs and leaves encode outputs unchanged (up to summation order).
TEST(MixerInvariance, PointPermutation) {
  MixerCase c{2, 16, 8, offsets_of({333, 200}), 1.0f, 0.8};
  const MixerData d(c, 21);
  const int B = c.B(), H = c.H, M = c.M, D = c.D, C = c.C();
  const std::int64_t N = c.N();
  std::vector<std::int64_t> perm(N);
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937 rng(5);
  for (int b = 0; b < B; ++b)
    std::shuffle(perm.begin() + c.off[b], perm.begin() + c.off[b + 1], rng);
  Vec Kp(d.K.size()), Vp(d.V.size());
  for (std::int64_t n = 0; n < N; ++n)
    for (int k = 0; k < C; ++k)
      Kp[n * C + k] = d.K[perm[n] * C + k], Vp[n * C + k] = d.V[perm[n] * C + k];

  Vec Z(d.Z.size()), Zp(d.Z.size()), le(B * H * M), lep(B * H * M);
  cpu::flare_encode_fwd(d.Q.data(), d.K.data(), d.V.data(), c.off.data(), B, H, M, D, c.scale,
                        Z.data(), le.data());
  cpu::flare_encode_fwd(d.Q.data(), Kp.data(), Vp.data(), c.off.data(), B, H, M, D, c.scale,
                        Zp.data(), lep.data());
  EXPECT_TRUE(all_close("Z permuted", Zp, Z, atol_for(c, d, double(N), max_abs(d.V)), 4 * kEps32));
  EXPECT_TRUE(
      all_close("encode lse permuted", lep, le, atol_for(c, d, double(N), 1.0), 4 * kEps32));

  Vec Y(d.K.size()), Yp(d.K.size()), ld(N * H), ldp(N * H);
  cpu::flare_decode_fwd(d.Q.data(), d.K.data(), Z.data(), c.off.data(), B, H, M, D, c.scale,
                        Y.data(), ld.data());
  cpu::flare_decode_fwd(d.Q.data(), Kp.data(), Z.data(), c.off.data(), B, H, M, D, c.scale,
                        Yp.data(), ldp.data());
  Vec Y_perm(Y.size()), ld_perm(ld.size());
  for (std::int64_t n = 0; n < N; ++n) {
    for (int k = 0; k < C; ++k) Y_perm[n * C + k] = Y[perm[n] * C + k];
    for (int h = 0; h < H; ++h) ld_perm[n * H + h] = ld[perm[n] * H + h];
  }
  // Decode is per point, but a point's place inside a GEMM tile changes its SIMD summation order.
  EXPECT_TRUE(all_close("Y permuted", Yp, Y_perm, atol_for(c, d, M, max_abs(Z)), 4 * kEps32));
  EXPECT_TRUE(all_close("decode lse permuted", ldp, ld_perm, atol_for(c, d, M, 1.0), 4 * kEps32));
}

// A packed batch of two meshes gives what each mesh gives alone (no leakage across offsets).
TEST(MixerInvariance, BatchEqualsSeparateMeshes) {
  MixerCase c{2, 8, 16, offsets_of({150, 77}), 1.0f, 0.7};
  const MixerData d(c, 31);
  const int B = 2, H = c.H, M = c.M, D = c.D, C = c.C();
  Vec Z(d.Z.size()), le(B * H * M);
  cpu::flare_encode_fwd(d.Q.data(), d.K.data(), d.V.data(), c.off.data(), B, H, M, D, c.scale,
                        Z.data(), le.data());
  Vec Y(d.K.size()), ld(c.N() * H);
  cpu::flare_decode_fwd(d.Q.data(), d.K.data(), Z.data(), c.off.data(), B, H, M, D, c.scale,
                        Y.data(), ld.data());
  for (int b = 0; b < B; ++b) {
    const std::int64_t n0 = c.off[b], nb = c.off[b + 1] - n0;
    const Offsets one = {0, nb};
    Vec Zb(std::size_t(H) * M * D), leb(H * M), Yb(nb * C), ldb(nb * H);
    cpu::flare_encode_fwd(d.Q.data(), d.K.data() + n0 * C, d.V.data() + n0 * C, one.data(), 1, H, M,
                          D, c.scale, Zb.data(), leb.data());
    cpu::flare_decode_fwd(d.Q.data(), d.K.data() + n0 * C, Zb.data(), one.data(), 1, H, M, D,
                          c.scale, Yb.data(), ldb.data());
    EXPECT_TRUE(all_close("Z of mesh", Zb.data(), Z.data() + std::size_t(b) * H * M * D, Zb.size(),
                          0.0, 0.0));
    EXPECT_TRUE(all_close("Y of mesh", Yb.data(), Y.data() + n0 * C, Yb.size(), 0.0, 0.0));
  }
}

// A corrupt offsets array is reported, not read out of bounds.
TEST(MixerPreconditions, RejectBadOffsetsAndDims) {
  const Vec Q(8, 0.f), K(40, 0.f), V(40, 0.f);
  Vec Z(16), le(2), Y(40);
  const Offsets decreasing = {0, 5, 3}, shifted = {1, 5};
  for (auto* fwd : {&ref::flare_encode_fwd, &cpu::flare_encode_fwd}) {
    EXPECT_THROW(
        fwd(Q.data(), K.data(), V.data(), decreasing.data(), 2, 1, 1, 8, 1.f, Z.data(), le.data()),
        flare::Error);
    EXPECT_THROW(
        fwd(Q.data(), K.data(), V.data(), shifted.data(), 1, 1, 1, 8, 1.f, Z.data(), le.data()),
        flare::Error);
    EXPECT_THROW(
        fwd(Q.data(), K.data(), V.data(), shifted.data(), 1, 1, 0, 8, 1.f, Z.data(), le.data()),
        flare::Error);
  }
  for (auto* fwd : {&ref::flare_decode_fwd, &cpu::flare_decode_fwd})
    EXPECT_THROW(
        fwd(Q.data(), K.data(), Z.data(), decreasing.data(), 2, 1, 1, 8, 1.f, Y.data(), le.data()),
        flare::Error);
  std::vector<double> err(2);
  for (auto* fwd : {&ref::rel_l2_fwd, &cpu::rel_l2_fwd})
    EXPECT_THROW(fwd(K.data(), V.data(), decreasing.data(), 2, 1, nullptr, nullptr, err.data()),
                 flare::Error);
}
