// FLARE mixer backward on tensor cores (version 2; bf16 K, V, dY; fp32 Q, Z, dZ, lse, dQ): the
// FlashAttention-2 backward in the two orientations of version 1's passes, mma.sync m16n8k16 with
// fp32 accumulators. Nothing of size N×M is stored; every score is recomputed from the saved lse.
//
//   point side (a warp owns 16 points, loops over the M latents 16 at a time; Q, Z, dZ of the
//   head as [M][D] bf16 in shared memory):
//     S = K·Qᵀ, P = exp(S − lse_n), dP = dY·Zᵀ           (decode)
//     Pe = exp(S − lse_m), dPe = V·dZᵀ                    (encode)
//     delta pass:  delta_n = Σ_m P·dP
//     dK += s·(P∘(dP − delta_n) + Pe∘(dPe − dZ_m·Z_m))·Q,  dV += Pe·dZ
//   latent side (a warp owns 16 latents, points of a chunk staged in 64-point tiles [64][D]):
//     decode: dQ += s·dS·K, dZ += P·dY;  encode: dQ += s·dSe·K  (per-chunk partials, summed by
//     flare_mixer.cu's sum_partials_kernel like version 1).
// The score accumulators of two adjacent 8-column tiles are the A operand of the next 16-deep
// product (P, dS never leave registers); products over latents or points read their B operand
// from the [k][n] shared-memory arrays through ldmatrix.trans, so no transposed copies exist.
//
// Passes (flare_mixer.cu orders them): for M <= 64 the decode latent pass also sums delta_n (one
// block holds every latent), so the mixer backward is three passes over N (latent dec, point,
// latent enc); for M > 64 a delta pass comes first. The point pass keeps the next 16-point
// group's rows and the old dK/dV rows in flight while a group computes.
// Measured (H100, bf16, N = 1M, H = 8; kernels/cuda/README.md): backward 4.7 ms at D = 32, M = 64
// (v1: 20.0), 3.2 ms at D = 8, M = 64 (v1: 5.2); forward + backward 6.8 and 4.2 ms (7.0 and 3.2
// with head-major grids, head_major_grid in flare_mixer_tc.cuh). Limits: the
// time grows linearly with M and the passes run at ~40% of the copy bandwidth (latency-bound, no
// per-pass profile yet); the point pass of D = 32 holds 168 registers (3 blocks an SM), of D = 64
// 255 with a few bytes of spill; prefetching the latent passes' tiles as well (tried) helped at
// M = 256 and cost 10% at M = 64.
//
// Precision: Q and dZ are fp32 and enter every product as Q_hi + Q_lo (two bf16 MMAs): the scores
// must match the forward's lse (see flare_mixer_tc.cu), and dZ's rounding would otherwise be the
// one error term the naive bf16 implementation (fp32 dZ) does not have. Z enters dP as bf16, as in
// the forward's P·Z; the delta pass uses the same products as dK's pass, so Σ_m dS = 0 holds to
// fp32 rounding. P and dS are rounded to bf16 where they feed a product (as the naive version).
#include <algorithm>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/flare_mixer_tc.cuh"

namespace flare::cuda::tc {
namespace {

constexpr int kWarps = 4;
constexpr int kPointsPerBlock = 512;  // point side: each warp takes 8 groups of 16 points
constexpr int kRows = 16 * kWarps;    // latent side: latents per block
constexpr int kTileP = 64;            // latent side: points per shared-memory tile

template <int D>
constexpr int ksteps() {
  return D >= 16 ? D / 16 : 1;
}

// A fragments of rows r0, r1 (= r0 + 8) of head h of a [ΣN, C] bf16 tensor (zeros for rows past
// the mesh: those rows' products stay finite and are never written).
template <int D>
__device__ inline void load_point_rows(const bf16* __restrict__ X, std::int64_t r0, std::int64_t r1,
                                       bool v0, bool v1, int C, int h, int t,
                                       std::uint32_t (&a)[ksteps<D>()][4]) {
#pragma unroll
  for (int ks = 0; ks < ksteps<D>(); ++ks) {
    const bf16* x0 = X + r0 * C + h * D + ks * 16 + 2 * t;
    const bf16* x1 = X + r1 * C + h * D + ks * 16 + 2 * t;
    a[ks][0] = v0 ? ld32(x0) : 0u;
    a[ks][1] = v1 ? ld32(x1) : 0u;
    a[ks][2] = (D >= 16 && v0) ? ld32(x0 + 8) : 0u;
    a[ks][3] = (D >= 16 && v1) ? ld32(x1 + 8) : 0u;
  }
}

// A fragments (hi and lo) of latent rows m0+g, m0+g+8 of an fp32 [M, D] matrix.
template <int D>
__device__ inline void load_latent_rows(const float* __restrict__ X, int m0, int g, int t,
                                        std::uint32_t (&hi)[ksteps<D>()][4],
                                        std::uint32_t (&lo)[ksteps<D>()][4]) {
#pragma unroll
  for (int ks = 0; ks < ksteps<D>(); ++ks) {
    const float* x0 = X + std::int64_t(m0 + g) * D + ks * 16 + 2 * t;
    const float* x1 = x0 + 8 * D;
    const float* src[4] = {x0, x1, x0 + 8, x1 + 8};
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      if (D >= 16 || r < 2) {
        split_bf16(src[r][0], src[r][1], hi[ks][r], lo[ks][r]);
      } else {
        hi[ks][r] = lo[ks][r] = 0u;
      }
    }
  }
}

// c[16 × 8] += A[16 × D]·Bᵀ where B's 8 rows are rows[0..7] of a [rows][D + kPad] array: scores
// and dP, whose depth is the head dim.
template <int D>
__device__ inline void mma_rows(float (&c)[4], const std::uint32_t (&a)[ksteps<D>()][4],
                                const bf16* __restrict__ rows, int g, int t) {
#pragma unroll
  for (int ks = 0; ks < ksteps<D>(); ++ks) {
    const bf16* r = rows + g * (D + kPad) + ks * 16 + 2 * t;
    if constexpr (D >= 16) {
      mma_bf16(c, a[ks], ld32(r), ld32(r + 8));
    } else {
      mma_bf16_k8(c, a[ks][0], a[ks][1], ld32(r));
    }
  }
}

// acc[16 × D] += A[16 × 16]·B where B = rows k0..k0+15 of a [k][D + kPad] array: products whose
// depth is latents (dK = dS·Q, dV = Pe·dZ) or points (dQ = dS·K, dZ = P·dY).
template <int D>
__device__ inline void mma_kn(float (&acc)[D / 8][4], const std::uint32_t (&a)[4],
                              const bf16* __restrict__ k0) {
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    std::uint32_t b0, b1;
    ldsm_x2_trans(b0, b1, k0 + dn * 8, D + kPad);
    mma_bf16(acc[dn], a, b0, b1);
  }
}

// *p = old + (x, y), rounded once to bf16.
__device__ inline void store_sum(bf16* p, __nv_bfloat162 old, float x, float y) {
  const float2 o = __bfloat1622float2(old);
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(o.x + x, o.y + y);
}

// One warp's 16 point rows (r0 = base + g, r1 = r0 + 8) of the point pass: K, dY, V fragments and
// the per-row decode statistics; loaded one group ahead (software pipelining).
template <int D>
struct PointRows {
  std::uint32_t k[ksteps<D>()][4], y[ksteps<D>()][4], v[ksteps<D>()][4];
  float lz0, lz1, de0, de1;

  template <bool Z, bool DEC, bool ENC>
  __device__ void load(const bf16* __restrict__ K, const bf16* __restrict__ dY,
                       const bf16* __restrict__ V, const float* __restrict__ lse_dec,
                       const float* __restrict__ delta_dec, std::int64_t base, std::int64_t hi,
                       int H, int h, int g, int t) {
    const std::int64_t r0 = base + g, r1 = r0 + 8;
    const bool v0 = r0 < hi, v1 = r1 < hi;
    const int C = H * D;
    load_point_rows<D>(K, r0, r1, v0, v1, C, h, t, k);
    lz0 = lz1 = de0 = de1 = 0.f;
    if constexpr (Z) {
      load_point_rows<D>(dY, r0, r1, v0, v1, C, h, t, y);
      lz0 = v0 ? lse_dec[r0 * H + h] * kLog2e : 0.f;
      lz1 = v1 ? lse_dec[r1 * H + h] * kLog2e : 0.f;
    }
    if constexpr (DEC) {
      de0 = v0 ? delta_dec[r0 * H + h] : 0.f;
      de1 = v1 ? delta_dec[r1 * H + h] : 0.f;
    }
    if constexpr (ENC) load_point_rows<D>(V, r0, r1, v0, v1, C, h, t, v);
  }
};

// ---------------------------------------------------------------------------------------------
// Point side. DELTA: writes delta_n only. DEC / ENC: dK (and dV for ENC) += the stage's terms.
template <int D, bool DELTA, bool DEC, bool ENC>
__global__ void __launch_bounds__(kWarps * 32)
    point_bwd_tc_kernel(const float* __restrict__ Q,          // [H, M, D]
                        const bf16* __restrict__ K,           // [ΣN, C]
                        const bf16* __restrict__ V,           // [ΣN, C]       (ENC)
                        const float* __restrict__ Z,          // [B, H, M, D]  (DELTA, DEC, ENC)
                        const float* __restrict__ lse_enc,    // [B, H, M]     (ENC)
                        const float* __restrict__ dZ,         // [B, H, M, D]  (ENC)
                        const float* __restrict__ delta_dec,  // [ΣN, H]       (DEC)
                        const float* __restrict__ lse_dec,    // [ΣN, H]       (DELTA, DEC)
                        const bf16* __restrict__ dY,          // [ΣN, C]       (DELTA, DEC)
                        const std::int64_t* __restrict__ offsets, int H, int M, float q_scale,
                        float scale,
                        float* __restrict__ delta_out,  // [ΣN, H]  (DELTA)
                        bf16* __restrict__ dK,          // [ΣN, C] += (nullable)
                        bf16* __restrict__ dV)          // [ΣN, C] += (nullable)
{
  constexpr bool kZ = DELTA || DEC;
  constexpr int KS = ksteps<D>();
  constexpr int ld = D + kPad;
  extern __shared__ uint4 smem_pbwd[];
  bf16* qh = reinterpret_cast<bf16*>(smem_pbwd);  // [M][ld] Q_hi
  bf16* ql = qh + M * ld;                          // [M][ld] Q_lo
  bf16* zs = ql + M * ld;                          // [M][ld] Z       (kZ)
  bf16* dzh = zs + (kZ ? M * ld : 0);              // [M][ld] dZ_hi   (ENC)
  bf16* dzl = dzh + (ENC ? M * ld : 0);            // [M][ld] dZ_lo   (ENC)
  float* lse2e = reinterpret_cast<float*>(dzl + (ENC ? M * ld : 0));  // [M] log2 units (ENC)
  float* dele = lse2e + M;                                            // [M] dZ_m·Z_m   (ENC)
  const int h = grid_head(H), b = blockIdx.z;
  const std::int64_t lo = offsets[b], hi = offsets[b + 1];
  const std::int64_t first = lo + std::int64_t(grid_item(H)) * kPointsPerBlock;
  if (first >= hi) return;
  const std::int64_t last = first + kPointsPerBlock < hi ? first + kPointsPerBlock : hi;
  const std::int64_t zoff = (std::int64_t(b) * H + h) * M * D;
  for (int i = threadIdx.x; i < M * D; i += blockDim.x) {
    const int m = i / D, d = i % D;
    const float q = Q[std::int64_t(h) * M * D + i];
    const bf16 qhi = __float2bfloat16_rn(q);
    qh[m * ld + d] = qhi;
    ql[m * ld + d] = __float2bfloat16_rn(q - __bfloat162float(qhi));
    if constexpr (kZ) zs[m * ld + d] = __float2bfloat16_rn(Z[zoff + i]);
    if constexpr (ENC) {
      const float x = dZ[zoff + i];
      const bf16 xhi = __float2bfloat16_rn(x);
      dzh[m * ld + d] = xhi;
      dzl[m * ld + d] = __float2bfloat16_rn(x - __bfloat162float(xhi));
    }
  }
  if constexpr (ENC) {
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
      lse2e[m] = lse_enc[(std::int64_t(b) * H + h) * M + m] * kLog2e;
      float acc = 0.f;
      for (int d = 0; d < D; ++d) acc = fmaf(dZ[zoff + m * D + d], Z[zoff + m * D + d], acc);
      dele[m] = acc;
    }
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int C = H * D;
  // Software pipeline: the next group's rows are loaded while this group computes, and the old
  // dK/dV rows (the += contract) are loaded when the group starts, so global latency overlaps the
  // latent loop instead of stalling each group's first and last instructions.
  PointRows<D> cur, nxt;
  std::int64_t base = first + warp * 16;
  if (base < last) cur.template load<kZ, DEC, ENC>(K, dY, V, lse_dec, delta_dec, base, hi, H, h, g, t);
  for (; base < last; base += kWarps * 16) {
    if (base + kWarps * 16 < last)
      nxt.template load<kZ, DEC, ENC>(K, dY, V, lse_dec, delta_dec, base + kWarps * 16, hi, H, h,
                                      g, t);
    const std::int64_t r0 = base + g, r1 = r0 + 8;
    const bool v0 = r0 < hi, v1 = r1 < hi;
    const auto& kf = cur.k;
    const auto& yf = cur.y;
    const auto& vf = cur.v;
    const float lz0 = cur.lz0, lz1 = cur.lz1, de0 = cur.de0, de1 = cur.de1;
    __nv_bfloat162 old_k[D / 8][2], old_v[D / 8][2];
    if constexpr (!DELTA) {
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        const int col = h * D + dn * 8 + 2 * t;
        const __nv_bfloat162 zero = __floats2bfloat162_rn(0.f, 0.f);
        old_k[dn][0] = dK && v0 ? *reinterpret_cast<const __nv_bfloat162*>(dK + r0 * C + col) : zero;
        old_k[dn][1] = dK && v1 ? *reinterpret_cast<const __nv_bfloat162*>(dK + r1 * C + col) : zero;
        if constexpr (ENC) {
          old_v[dn][0] = dV && v0 ? *reinterpret_cast<const __nv_bfloat162*>(dV + r0 * C + col) : zero;
          old_v[dn][1] = dV && v1 ? *reinterpret_cast<const __nv_bfloat162*>(dV + r1 * C + col) : zero;
        }
      }
    }
    float dk[D / 8][4] = {}, dv[D / 8][4] = {};
    float dsum0 = 0.f, dsum1 = 0.f;
    for (int mc = 0; mc < M; mc += 16) {
      float s[2][4] = {}, ds[2][4] = {};
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        mma_rows<D>(s[nt], kf, qh + (mc + nt * 8) * ld, g, t);
        mma_rows<D>(s[nt], kf, ql + (mc + nt * 8) * ld, g, t);
#pragma unroll
        for (int i = 0; i < 4; ++i) s[nt][i] *= q_scale;
      }
      if constexpr (kZ) {
        float dp[2][4] = {};
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          mma_rows<D>(dp[nt], yf, zs + (mc + nt * 8) * ld, g, t);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float p = exp2f(s[nt][i] - (i < 2 ? lz0 : lz1));
            if constexpr (DELTA) {
              (i < 2 ? dsum0 : dsum1) += p * dp[nt][i];
            } else {
              ds[nt][i] = p * (dp[nt][i] - (i < 2 ? de0 : de1));
            }
          }
        }
      }
      if constexpr (ENC) {
        float pe[2][4];
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          float dpe[4] = {};
          mma_rows<D>(dpe, vf, dzh + (mc + nt * 8) * ld, g, t);
          mma_rows<D>(dpe, vf, dzl + (mc + nt * 8) * ld, g, t);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int col = mc + nt * 8 + 2 * t + (i & 1);
            pe[nt][i] = exp2f(s[nt][i] - lse2e[col]);
            ds[nt][i] = fmaf(pe[nt][i], dpe[i] - dele[col], ds[nt][i]);
          }
        }
        std::uint32_t pa[4];
        acc_to_a(pe[0], pe[1], pa);
        mma_kn<D>(dv, pa, dzh + mc * ld);
        mma_kn<D>(dv, pa, dzl + mc * ld);
      }
      if constexpr (!DELTA) {
        std::uint32_t da[4];
        acc_to_a(ds[0], ds[1], da);
        mma_kn<D>(dk, da, qh + mc * ld);
        mma_kn<D>(dk, da, ql + mc * ld);
      }
    }
    if constexpr (DELTA) {
      dsum0 = quad_sum(dsum0);
      dsum1 = quad_sum(dsum1);
      if (t == 0 && v0) delta_out[r0 * H + h] = dsum0;
      if (t == 0 && v1) delta_out[r1 * H + h] = dsum1;
    } else {
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        const int col = h * D + dn * 8 + 2 * t;
        if (dK && v0) store_sum(dK + r0 * C + col, old_k[dn][0], scale * dk[dn][0], scale * dk[dn][1]);
        if (dK && v1) store_sum(dK + r1 * C + col, old_k[dn][1], scale * dk[dn][2], scale * dk[dn][3]);
        if constexpr (ENC) {
          if (dV && v0) store_sum(dV + r0 * C + col, old_v[dn][0], dv[dn][0], dv[dn][1]);
          if (dV && v1) store_sum(dV + r1 * C + col, old_v[dn][1], dv[dn][2], dv[dn][3]);
        }
      }
    }
    cur = nxt;
  }
}

// ---------------------------------------------------------------------------------------------
// Latent side: per (chunk, latent tile) partials. ENC = false: decode's dQ and dZ; ENC = true:
// encode's dQ. FUSED (decode, M <= 64: one block holds every latent): delta_p = Σ_m P·dP is summed
// here, over the block's warps through shared memory, for each 16-point step before its dS, and
// written to delta_out for the point pass: no separate delta pass over K and dY.
template <int D, bool ENC, bool FUSED>
__global__ void __launch_bounds__(kWarps * 32)
    latent_bwd_tc_kernel(const float* __restrict__ Q,          // [H, M, D]
                         const bf16* __restrict__ K,           // [ΣN, C]
                         const bf16* __restrict__ X,           // [ΣN, C] dY (decode) or V (encode)
                         const float* __restrict__ Z,          // [B, H, M, D]
                         const float* __restrict__ lse,        // [ΣN, H] decode, [B, H, M] encode
                         const float* __restrict__ dZ,         // [B, H, M, D]  (ENC)
                         const float* __restrict__ delta_dec,  // [ΣN, H]  (!ENC && !FUSED)
                         const std::int64_t* __restrict__ offsets, int H, int M, int m_tiles,
                         int chunk, int n_chunks, float q_scale, float scale,
                         float* __restrict__ part_dq,    // [B, H, chunks, M, D]
                         float* __restrict__ part_dz,    // [B, H, chunks, M, D] (!ENC)
                         float* __restrict__ delta_out)  // [ΣN, H]             (FUSED)
{
  static_assert(!(ENC && FUSED), "only decode's delta is fused");
  constexpr int KS = ksteps<D>();
  constexpr int ld = D + kPad;
  __shared__ __align__(16) bf16 ks[kTileP * ld];  // [points][D]
  __shared__ __align__(16) bf16 xs[kTileP * ld];  // [points][D] dY or V
  __shared__ float lse2p[kTileP], delp[kTileP];   // (!ENC) per point; +inf / 0 past the chunk
  __shared__ float red[2][kWarps][16];            // (FUSED) per-warp column sums, double-buffered
  const int h = grid_head(H), b = blockIdx.z;
  const int c = grid_item(H) / m_tiles, mt = grid_item(H) % m_tiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int m0 = mt * kRows + warp * 16;
  const bool active = m0 < M;  // M % 16 == 0: a warp's 16 latents are all real or all absent
  const int C = H * D;
  const std::int64_t lo = offsets[b], hi = offsets[b + 1];
  const std::int64_t begin = lo + std::int64_t(c) * chunk;
  const std::int64_t end = begin + chunk < hi ? begin + chunk : hi;
  const std::int64_t zoff = (std::int64_t(b) * H + h) * M * D;

  // A fragments: Q (hi, lo) and Z (decode, bf16) or dZ (encode, hi and lo).
  std::uint32_t qa[KS][4], qla[KS][4], xa[KS][4], xla[KS][4];
  const int mr = active ? m0 : 0;
  load_latent_rows<D>(Q + std::int64_t(h) * M * D, mr, g, t, qa, qla);
  load_latent_rows<D>((ENC ? dZ : Z) + zoff, mr, g, t, xa, xla);
  float lse0 = 0.f, lse1 = 0.f, de0 = 0.f, de1 = 0.f;
  if constexpr (ENC) {
    const std::int64_t li = (std::int64_t(b) * H + h) * M + mr + g;
    lse0 = lse[li] * kLog2e;
    lse1 = lse[li + 8] * kLog2e;
    for (int d = 0; d < D; ++d) {
      de0 = fmaf(dZ[zoff + (mr + g) * D + d], Z[zoff + (mr + g) * D + d], de0);
      de1 = fmaf(dZ[zoff + (mr + g + 8) * D + d], Z[zoff + (mr + g + 8) * D + d], de1);
    }
  }
  float dq[D / 8][4] = {}, dz[D / 8][4] = {};
  for (std::int64_t t0 = begin; t0 < end; t0 += kTileP) {
    const int np = int(end - t0 < kTileP ? end - t0 : kTileP);
    __syncthreads();
    for (int i = threadIdx.x; i < kTileP * (D / 8); i += blockDim.x) {
      const int p = i / (D / 8), v = i % (D / 8);
      uint4 kv = make_uint4(0, 0, 0, 0), xv = make_uint4(0, 0, 0, 0);
      if (p < np) {
        kv = *reinterpret_cast<const uint4*>(K + (t0 + p) * C + h * D + v * 8);
        xv = *reinterpret_cast<const uint4*>(X + (t0 + p) * C + h * D + v * 8);
      }
      *reinterpret_cast<uint4*>(ks + p * ld + v * 8) = kv;
      *reinterpret_cast<uint4*>(xs + p * ld + v * 8) = xv;
    }
    if constexpr (!ENC) {
      for (int p = threadIdx.x; p < kTileP; p += blockDim.x) {
        lse2p[p] = p < np ? lse[(t0 + p) * H + h] * kLog2e : INFINITY;
        if constexpr (!FUSED) delp[p] = p < np ? delta_dec[(t0 + p) * H + h] : 0.f;
      }
    }
    __syncthreads();
    // FUSED: every warp (inactive ones add zeros) takes part in every step's block-wide sum.
    if (!FUSED && !active) continue;
    for (int p0 = 0; p0 < (FUSED ? kTileP : np); p0 += 16) {
      float s[2][4] = {}, x[2][4] = {}, pr[2][4] = {}, ds[2][4] = {};
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        if (!active) break;  // FUSED only: an inactive warp's P stays 0
        const bf16* krows = ks + (p0 + nt * 8) * ld;
        const bf16* xrows = xs + (p0 + nt * 8) * ld;
        mma_rows<D>(s[nt], qa, krows, g, t);
        mma_rows<D>(s[nt], qla, krows, g, t);
        mma_rows<D>(x[nt], xa, xrows, g, t);  // dP = Z·dYᵀ or dPe = dZ·Vᵀ
        if constexpr (ENC) mma_rows<D>(x[nt], xla, xrows, g, t);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int col = p0 + nt * 8 + 2 * t + (i & 1);
          const float sc = s[nt][i] * q_scale;
          if constexpr (ENC) {
            pr[nt][i] = col < np ? exp2f(sc - (i < 2 ? lse0 : lse1)) : 0.f;
            ds[nt][i] = pr[nt][i] * (x[nt][i] - (i < 2 ? de0 : de1));
          } else {
            pr[nt][i] = exp2f(sc - lse2p[col]);
            if constexpr (!FUSED) ds[nt][i] = pr[nt][i] * (x[nt][i] - delp[col]);
          }
        }
      }
      if constexpr (FUSED) {
        // Column sums of P∘dP over this warp's 16 latents (rows g, g+8, then the 8 g's), then
        // over the warps.
        float cs[2][2];
#pragma unroll
        for (int nt = 0; nt < 2; ++nt)
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            float v = pr[nt][j] * x[nt][j] + pr[nt][2 + j] * x[nt][2 + j];
            v += __shfl_xor_sync(0xffffffffu, v, 4);
            v += __shfl_xor_sync(0xffffffffu, v, 8);
            v += __shfl_xor_sync(0xffffffffu, v, 16);
            cs[nt][j] = v;
          }
        float (*rb)[16] = red[(p0 / 16) & 1];
        if (g == 0)
#pragma unroll
          for (int nt = 0; nt < 2; ++nt)
#pragma unroll
            for (int j = 0; j < 2; ++j) rb[warp][nt * 8 + 2 * t + j] = cs[nt][j];
        __syncthreads();
#pragma unroll
        for (int nt = 0; nt < 2; ++nt)
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            const int cl = nt * 8 + 2 * t + j;
            float del = 0.f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) del += rb[w][cl];
            if (warp == 0 && g == 0 && p0 + cl < np) delta_out[(t0 + p0 + cl) * H + h] = del;
            ds[nt][j] = pr[nt][j] * (x[nt][j] - del);
            ds[nt][2 + j] = pr[nt][2 + j] * (x[nt][2 + j] - del);
          }
        if (!active) continue;
      }
      std::uint32_t da[4];
      acc_to_a(ds[0], ds[1], da);
      mma_kn<D>(dq, da, ks + p0 * ld);
      if constexpr (!ENC) {
        std::uint32_t pa[4];
        acc_to_a(pr[0], pr[1], pa);
        mma_kn<D>(dz, pa, xs + p0 * ld);
      }
    }
  }
  if (!active) return;
  const std::int64_t pi0 = ((std::int64_t(b) * H + h) * n_chunks + c) * M + m0 + g;
  const std::int64_t pi1 = pi0 + 8;
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    const int d = dn * 8 + 2 * t;
    *reinterpret_cast<float2*>(part_dq + pi0 * D + d) =
        make_float2(scale * dq[dn][0], scale * dq[dn][1]);
    *reinterpret_cast<float2*>(part_dq + pi1 * D + d) =
        make_float2(scale * dq[dn][2], scale * dq[dn][3]);
    if constexpr (!ENC) {
      *reinterpret_cast<float2*>(part_dz + pi0 * D + d) = make_float2(dz[dn][0], dz[dn][1]);
      *reinterpret_cast<float2*>(part_dz + pi1 * D + d) = make_float2(dz[dn][2], dz[dn][3]);
    }
  }
}

std::size_t point_smem(const MixerShape& s, bool z, bool enc) {
  const std::size_t arr = std::size_t(s.M) * (s.D + kPad) * sizeof(bf16);
  return arr * (2 + (z ? 1 : 0) + (enc ? 2 : 0)) + (enc ? 2 * s.M * sizeof(float) : 0);
}

template <bool DELTA, bool DEC, bool ENC>
void launch_point(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V, const float* Z,
                  const float* lse_enc, const float* dZ, const float* delta_dec,
                  const float* lse_dec, const bf16* dY, const PackedBatch& batch,
                  const MixerShape& s, float* delta_out, bf16* dK, bf16* dV) {
  const std::size_t smem = point_smem(s, DELTA || DEC, ENC);
  const dim3 grid =
      head_major_grid((batch.max_points + kPointsPerBlock - 1) / kPointsPerBlock, s.H, batch.B);
  FLARE_D_SWITCH(s.D, {
    auto kern = point_bwd_tc_kernel<DD, DELTA, DEC, ENC>;
    FLARE_CUDA_CHECK(
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    kern<<<grid, kWarps * 32, smem, ctx.stream()>>>(Q, K, V, Z, lse_enc, dZ, delta_dec, lse_dec,
                                                    dY, batch.offsets, s.H, s.M,
                                                    s.scale * kLog2e, s.scale, delta_out, dK, dV);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <bool ENC, bool FUSED>
void launch_latent(CudaContext& ctx, const float* Q, const bf16* K, const bf16* X, const float* Z,
                   const float* lse, const float* dZ, const float* delta_dec,
                   const PackedBatch& batch, const MixerShape& s, int chunk, int n_chunks,
                   float* part_dq, float* part_dz, float* delta_out) {
  const int m_tiles = (s.M + kRows - 1) / kRows;
  const dim3 grid = head_major_grid(std::int64_t(n_chunks) * m_tiles, s.H, batch.B);
  FLARE_D_SWITCH(s.D, {
    latent_bwd_tc_kernel<DD, ENC, FUSED><<<grid, kWarps * 32, 0, ctx.stream()>>>(
        Q, K, X, Z, lse, dZ, delta_dec, batch.offsets, s.H, s.M, m_tiles, chunk, n_chunks,
        s.scale * kLog2e, s.scale, part_dq, part_dz, delta_out);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

}  // namespace

bool bwd_supported(const CudaContext& ctx, const MixerShape& s) {
  return supported(s) && point_smem(s, true, true) <= ctx.props().sharedMemPerBlockOptin;
}

void bwd_delta(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
               const float* lse_dec, const bf16* dY, const PackedBatch& batch,
               const MixerShape& s, float* delta) {
  if (batch.max_points == 0) return;
  launch_point<true, false, false>(ctx, Q, K, nullptr, Z, nullptr, nullptr, nullptr, lse_dec, dY,
                                   batch, s, delta, nullptr, nullptr);
}

void bwd_point(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V, const float* Z,
               const float* lse_enc, const float* dZ, const float* delta_dec,
               const float* lse_dec, const bf16* dY, const PackedBatch& batch,
               const MixerShape& s, bool dec, bool enc, bf16* dK, bf16* dV) {
  if (batch.max_points == 0 || (!dK && !(dV && enc))) return;
  if (dec && enc) {
    launch_point<false, true, true>(ctx, Q, K, V, Z, lse_enc, dZ, delta_dec, lse_dec, dY, batch,
                                    s, nullptr, dK, dV);
  } else if (dec) {
    launch_point<false, true, false>(ctx, Q, K, V, Z, lse_enc, dZ, delta_dec, lse_dec, dY, batch,
                                     s, nullptr, dK, nullptr);
  } else if (enc) {
    launch_point<false, false, true>(ctx, Q, K, V, Z, lse_enc, dZ, delta_dec, lse_dec, dY, batch,
                                     s, nullptr, dK, dV);
  }
}

bool bwd_latent_computes_delta(const MixerShape& s) { return s.M <= kRows; }

void bwd_latent_dec(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
                    float* delta, const float* lse_dec, const bf16* dY, const PackedBatch& batch,
                    const MixerShape& s, int chunk, int n_chunks, float* part_dq,
                    float* part_dz) {
  if (bwd_latent_computes_delta(s)) {
    launch_latent<false, true>(ctx, Q, K, dY, Z, lse_dec, nullptr, nullptr, batch, s, chunk,
                               n_chunks, part_dq, part_dz, delta);
  } else {
    launch_latent<false, false>(ctx, Q, K, dY, Z, lse_dec, nullptr, delta, batch, s, chunk,
                                n_chunks, part_dq, part_dz, nullptr);
  }
}

void bwd_latent_enc(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V,
                    const float* Z, const float* lse_enc, const float* dZ,
                    const PackedBatch& batch, const MixerShape& s, int chunk, int n_chunks,
                    float* part_dq) {
  launch_latent<true, false>(ctx, Q, K, V, Z, lse_enc, dZ, nullptr, batch, s, chunk, n_chunks,
                             part_dq, nullptr, nullptr);
}

}  // namespace flare::cuda::tc
