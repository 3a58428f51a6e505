// FLARE mixer forward on tensor cores (version 2; bf16 only): the FlashAttention-2 register
// scheme with mma.sync.m16n8k16 (bf16 inputs, fp32 accumulators). A warp owns 16 rows (points for
// decode, latents for encode); the score accumulators of two adjacent 8-column tiles are exactly
// the A operand of the next 16-deep product, so P never leaves registers.
//
//   decode: S[16 pts × 64 latents] = K·Qᵀ (K rows straight from global, Q from shared memory),
//           online softmax over latent chunks of 64, Y += P·Z with Zᵀ [D][M] in shared memory.
//   encode: S[16 latents × 64 pts] = Q·Kᵀ per 64-point tile (K tile [64][D] and Vᵀ tile [D][64]
//           staged in shared memory), online softmax over points, acc += P·V; per-chunk partials
//           then go through the same exact combine kernel as version 1.
// Q is fp32 (a parameter): it enters the products as two bf16 terms, Q = Q_hi + Q_lo, so the
// scores carry fp32-level precision in Q. Without that the forward's lse and the backward's
// recomputed scores (fp32 Q) disagree by Q's rounding and the gradients lose a factor ~2.5 in
// accuracy (measured: tests/cuda/test_cuda_mixer.cpp, bf16 rule).
// Measured (H100, bf16, N = 1M, H = 8, M = 64): forward 1.06 ms at D = 8, 2.19 ms at D = 32
// (v1: 2.01, 5.72; PyTorch eager SDPA: 10.9, 10.7). Limits: 4 warps a block, one 64-point tile in
// flight (no cp.async double buffering), the Q_lo product doubles the score MMAs.
// Shared-memory rows are padded by kPad bf16 (mma.cuh) so the 32-bit fragment loads of
// a warp hit 32 distinct banks.
#include <algorithm>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/flare_mixer_tc.cuh"

namespace flare::cuda::tc {
namespace {

constexpr int kWarps = 4;
constexpr int kRows = 16 * kWarps;  // rows of a block: points (decode) or latents (encode)
constexpr int kTileP = 64;          // encode: points per shared-memory tile
constexpr int kChunkM = 64;         // decode: latents per online-softmax step

// One online-softmax step over an 8·NT-column block of scores s (two rows per thread: g, g+8),
// then acc += P·B where B's fragments come from `bt` ([D][ldb] bf16, column k0 onwards).
template <int D, int NT>
__device__ inline void softmax_step_and_pv(float (&s)[NT][4], float& mx0, float& mx1, float& l0,
                                           float& l1, float (&acc)[D / 8][4],
                                           const bf16* __restrict__ bt, int ldb, int k0, int g,
                                           int t) {
  float cm0 = -INFINITY, cm1 = -INFINITY;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    cm0 = fmaxf(cm0, fmaxf(s[nt][0], s[nt][1]));
    cm1 = fmaxf(cm1, fmaxf(s[nt][2], s[nt][3]));
  }
  cm0 = quad_max(cm0);
  cm1 = quad_max(cm1);
  const float n0 = fmaxf(mx0, cm0), n1 = fmaxf(mx1, cm1);
  // A row whose scores are all -inf so far keeps a zero scale rather than exp2(nan).
  const float c0 = n0 == -INFINITY ? 1.f : exp2f(mx0 - n0);
  const float c1 = n1 == -INFINITY ? 1.f : exp2f(mx1 - n1);
  mx0 = n0;
  mx1 = n1;
  l0 *= c0;
  l1 *= c1;
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    acc[dn][0] *= c0;
    acc[dn][1] *= c0;
    acc[dn][2] *= c1;
    acc[dn][3] *= c1;
  }
  const float b0m = n0 == -INFINITY ? 0.f : n0, b1m = n1 == -INFINITY ? 0.f : n1;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    s[nt][0] = exp2f(s[nt][0] - b0m);
    s[nt][1] = exp2f(s[nt][1] - b0m);
    s[nt][2] = exp2f(s[nt][2] - b1m);
    s[nt][3] = exp2f(s[nt][3] - b1m);
    l0 += s[nt][0] + s[nt][1];
    l1 += s[nt][2] + s[nt][3];
  }
#pragma unroll
  for (int j = 0; j < NT / 2; ++j) {
    const std::uint32_t a[4] = {pack_bf16(s[2 * j][0], s[2 * j][1]),
                                pack_bf16(s[2 * j][2], s[2 * j][3]),
                                pack_bf16(s[2 * j + 1][0], s[2 * j + 1][1]),
                                pack_bf16(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
    for (int dn = 0; dn < D / 8; ++dn) {
      const bf16* row = bt + (dn * 8 + g) * ldb + k0 + 16 * j + 2 * t;
      mma_bf16(acc[dn], a, ld32(row), ld32(row + 8));
    }
  }
}

// ---------------------------------------------------------------------------------------------
template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    decode_fwd_tc_kernel(const float* __restrict__ Q,  // [H, M, D]
                         const bf16* __restrict__ K,   // [ΣN, C]
                         const float* __restrict__ Z,  // [B, H, M, D]
                         const std::int64_t* __restrict__ offsets, int H, int M, float q_scale,
                         bf16* __restrict__ Y,     // [ΣN, C]
                         float* __restrict__ lse)  // [ΣN, H]
{
  extern __shared__ uint4 smem_tc[];
  bf16* qs = reinterpret_cast<bf16*>(smem_tc);  // [M][D + kPad] Q_hi
  bf16* ql = qs + M * (D + kPad);                // [M][D + kPad] Q_lo
  bf16* zt = ql + M * (D + kPad);                // [D][M + kPad]
  const int h = grid_head(H), b = blockIdx.z;
  const std::int64_t lo = offsets[b], hi = offsets[b + 1];
  const std::int64_t first = lo + std::int64_t(grid_item(H)) * kRows;
  if (first >= hi) return;
  for (int i = threadIdx.x; i < M * D; i += blockDim.x) {
    const int m = i / D, d = i % D;
    const float q = Q[std::int64_t(h) * M * D + i];
    const bf16 hi = __float2bfloat16_rn(q);
    qs[m * (D + kPad) + d] = hi;
    ql[m * (D + kPad) + d] = __float2bfloat16_rn(q - __bfloat162float(hi));
    zt[d * (M + kPad) + m] = __float2bfloat16_rn(Z[(std::int64_t(b) * H + h) * M * D + i]);
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const std::int64_t r0 = first + warp * 16 + g, r1 = r0 + 8;
  if (first + warp * 16 >= hi) return;
  const bool v0 = r0 < hi, v1 = r1 < hi;
  const int C = H * D;
  constexpr int KS = D >= 16 ? D / 16 : 1;
  std::uint32_t a[KS][4] = {};
#pragma unroll
  for (int ks = 0; ks < KS; ++ks) {
    const bf16* k0 = K + r0 * C + h * D + ks * 16 + 2 * t;
    const bf16* k1 = K + r1 * C + h * D + ks * 16 + 2 * t;
    a[ks][0] = v0 ? ld32(k0) : 0u;
    a[ks][1] = v1 ? ld32(k1) : 0u;
    if constexpr (D >= 16) {
      a[ks][2] = v0 ? ld32(k0 + 8) : 0u;
      a[ks][3] = v1 ? ld32(k1 + 8) : 0u;
    }
  }
  float acc[D / 8][4] = {};
  float mx0 = -INFINITY, mx1 = -INFINITY, l0 = 0.f, l1 = 0.f;
  for (int mc = 0; mc < M; mc += kChunkM) {
    float s[kChunkM / 8][4];
    const int nts = min(kChunkM, M - mc) / 8;  // M % 16 == 0: an even number of tiles
#pragma unroll
    for (int nt = 0; nt < kChunkM / 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      if (nt < nts) {
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
          const int off = (mc + nt * 8 + g) * (D + kPad) + ks * 16 + 2 * t;
          if constexpr (D >= 16) {
            mma_bf16(s[nt], a[ks], ld32(qs + off), ld32(qs + off + 8));
            mma_bf16(s[nt], a[ks], ld32(ql + off), ld32(ql + off + 8));
          } else {
            mma_bf16_k8(s[nt], a[ks][0], a[ks][1], ld32(qs + off));
            mma_bf16_k8(s[nt], a[ks][0], a[ks][1], ld32(ql + off));
          }
        }
        s[nt][0] *= q_scale;
        s[nt][1] *= q_scale;
        s[nt][2] *= q_scale;
        s[nt][3] *= q_scale;
      } else {
        s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = -INFINITY;
      }
    }
    if (nts == kChunkM / 8) {
      softmax_step_and_pv<D, kChunkM / 8>(s, mx0, mx1, l0, l1, acc, zt, M + kPad, mc, g, t);
    } else {
      // Last, partial chunk (M not a multiple of 64): the -inf columns give P = 0 and the products
      // over them are skipped by clamping the k range to the real latents.
      float s2[2][4];
      for (int base = 0; base < nts; base += 2) {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          s2[0][q] = s[0][q];
          s2[1][q] = s[1][q];
        }
        // Rotate the next two tiles to the front (compile-time register indices only).
#pragma unroll
        for (int nt = 0; nt + 2 < kChunkM / 8; ++nt)
#pragma unroll
          for (int q = 0; q < 4; ++q) s[nt][q] = s[nt + 2][q];
        softmax_step_and_pv<D, 2>(s2, mx0, mx1, l0, l1, acc, zt, M + kPad, mc + base * 8, g, t);
      }
    }
  }
  l0 = quad_sum(l0);
  l1 = quad_sum(l1);
  const float i0 = 1.f / l0, i1 = 1.f / l1;
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    const int col = h * D + dn * 8 + 2 * t;
    if (v0) *reinterpret_cast<std::uint32_t*>(Y + r0 * C + col) = pack_bf16(acc[dn][0] * i0, acc[dn][1] * i0);
    if (v1) *reinterpret_cast<std::uint32_t*>(Y + r1 * C + col) = pack_bf16(acc[dn][2] * i1, acc[dn][3] * i1);
  }
  if (t == 0) {
    if (v0) lse[r0 * H + h] = (mx0 + log2f(l0)) * kLn2;
    if (v1) lse[r1 * H + h] = (mx1 + log2f(l1)) * kLn2;
  }
}

// ---------------------------------------------------------------------------------------------
template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    encode_partial_tc_kernel(const float* __restrict__ Q,  // [H, M, D]
                             const bf16* __restrict__ K,   // [ΣN, C]
                             const bf16* __restrict__ V,   // [ΣN, C]
                             const std::int64_t* __restrict__ offsets, int H, int M, int m_tiles,
                             int chunk, int n_chunks, float q_scale,
                             float* __restrict__ part_ml,   // [B, H, chunks, M, 2]
                             float* __restrict__ part_acc)  // [B, H, chunks, M, D]
{
  __shared__ __align__(16) bf16 ks[kTileP * (D + kPad)];  // [points][D]
  __shared__ __align__(16) bf16 vt[D * (kTileP + kPad)];  // [D][points]
  const int h = grid_head(H), b = blockIdx.z;
  const int c = grid_item(H) / m_tiles, mt = grid_item(H) % m_tiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int m0 = mt * kRows + warp * 16;
  const bool active = m0 < M;  // M % 16 == 0: a warp's 16 latents are all real or all absent
  const int C = H * D;
  const std::int64_t lo = offsets[b], hi = offsets[b + 1];
  const std::int64_t begin = lo + std::int64_t(c) * chunk;
  const std::int64_t end = begin + chunk < hi ? begin + chunk : hi;

  constexpr int KS = D >= 16 ? D / 16 : 1;
  std::uint32_t a[KS][4] = {}, al[KS][4] = {};  // Q_hi and Q_lo fragments
#pragma unroll
  for (int kk = 0; kk < KS; ++kk) {
    const float* q0 = Q + (std::int64_t(h) * M + (active ? m0 + g : 0)) * D + kk * 16 + 2 * t;
    const float* q1 = q0 + 8 * D;
    const float* src[4] = {q0, q1, q0 + 8, q1 + 8};
#pragma unroll
    for (int r = 0; r < (D >= 16 ? 4 : 2); ++r) {
      const float x0 = src[r][0], x1 = src[r][1];
      const float h0 = __bfloat162float(__float2bfloat16_rn(x0));
      const float h1 = __bfloat162float(__float2bfloat16_rn(x1));
      a[kk][r] = pack_bf16(h0, h1);
      al[kk][r] = pack_bf16(x0 - h0, x1 - h1);
    }
  }
  float acc[D / 8][4] = {};
  float mx0 = -INFINITY, mx1 = -INFINITY, l0 = 0.f, l1 = 0.f;
  for (std::int64_t t0 = begin; t0 < end; t0 += kTileP) {
    const int np = int(end - t0 < kTileP ? end - t0 : kTileP);
    __syncthreads();
    // Stage the tile: 16-byte vectors of 8 bf16; V is transposed on the way in.
    for (int i = threadIdx.x; i < kTileP * (D / 8); i += blockDim.x) {
      const int p = i / (D / 8), v = i % (D / 8);
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (p < np) {
        kv = *reinterpret_cast<const uint4*>(K + (t0 + p) * C + h * D + v * 8);
        vv = *reinterpret_cast<const uint4*>(V + (t0 + p) * C + h * D + v * 8);
      }
      *reinterpret_cast<uint4*>(ks + p * (D + kPad) + v * 8) = kv;
      const bf16* ve = reinterpret_cast<const bf16*>(&vv);
#pragma unroll
      for (int j = 0; j < 8; ++j) vt[(v * 8 + j) * (kTileP + kPad) + p] = ve[j];
    }
    __syncthreads();
    if (!active) continue;
    float s[kTileP / 8][4];
#pragma unroll
    for (int nt = 0; nt < kTileP / 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < KS; ++kk) {
        const bf16* row = ks + (nt * 8 + g) * (D + kPad) + kk * 16 + 2 * t;
        if constexpr (D >= 16) {
          const std::uint32_t b0 = ld32(row), b1 = ld32(row + 8);
          mma_bf16(s[nt], a[kk], b0, b1);
          mma_bf16(s[nt], al[kk], b0, b1);
        } else {
          const std::uint32_t b0 = ld32(row);
          mma_bf16_k8(s[nt], a[kk][0], a[kk][1], b0);
          mma_bf16_k8(s[nt], al[kk][0], al[kk][1], b0);
        }
      }
      const int col = nt * 8 + 2 * t;
      s[nt][0] = col < np ? s[nt][0] * q_scale : -INFINITY;
      s[nt][1] = col + 1 < np ? s[nt][1] * q_scale : -INFINITY;
      s[nt][2] = col < np ? s[nt][2] * q_scale : -INFINITY;
      s[nt][3] = col + 1 < np ? s[nt][3] * q_scale : -INFINITY;
    }
    softmax_step_and_pv<D, kTileP / 8>(s, mx0, mx1, l0, l1, acc, vt, kTileP + kPad, 0, g, t);
  }
  if (!active) return;
  l0 = quad_sum(l0);
  l1 = quad_sum(l1);
  const std::int64_t pi0 = ((std::int64_t(b) * H + h) * n_chunks + c) * M + m0 + g;
  const std::int64_t pi1 = pi0 + 8;
  if (t == 0) {
    part_ml[pi0 * 2] = mx0;
    part_ml[pi0 * 2 + 1] = l0;
    part_ml[pi1 * 2] = mx1;
    part_ml[pi1 * 2 + 1] = l1;
  }
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    const int d = dn * 8 + 2 * t;
    *reinterpret_cast<float2*>(part_acc + pi0 * D + d) = make_float2(acc[dn][0], acc[dn][1]);
    *reinterpret_cast<float2*>(part_acc + pi1 * D + d) = make_float2(acc[dn][2], acc[dn][3]);
  }
}

}  // namespace

void encode_plan(const CudaContext& ctx, const PackedBatch& batch, const MixerShape& s, int& chunk,
                 int& n_chunks) {
  const std::int64_t m_tiles = (s.M + kRows - 1) / kRows;
  const std::int64_t per_chunk = std::int64_t(batch.B) * s.H * m_tiles;
  const std::int64_t target_blocks = 4LL * ctx.sm_count();
  std::int64_t chunks = std::max<std::int64_t>(1, (target_blocks + per_chunk - 1) / per_chunk);
  chunks = std::min(chunks, std::max<std::int64_t>(1, (batch.max_points + 255) / 256));
  std::int64_t c = (batch.max_points + chunks - 1) / chunks;
  c = std::max<std::int64_t>(kTileP, (c + kTileP - 1) / kTileP * kTileP);
  chunk = int(c);
  n_chunks = int(std::max<std::int64_t>(1, (batch.max_points + c - 1) / c));
}

void encode_partials(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V,
                     const PackedBatch& batch, const MixerShape& s, int chunk, int n_chunks,
                     float* part_ml, float* part_acc) {
  const int m_tiles = (s.M + kRows - 1) / kRows;
  const dim3 grid = head_major_grid(std::int64_t(n_chunks) * m_tiles, s.H, batch.B);
  FLARE_D_SWITCH(s.D, {
    encode_partial_tc_kernel<DD><<<grid, kWarps * 32, 0, ctx.stream()>>>(
        Q, K, V, batch.offsets, s.H, s.M, m_tiles, chunk, n_chunks, s.scale * kLog2e, part_ml,
        part_acc);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

void decode_fwd(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
                const PackedBatch& batch, const MixerShape& s, bf16* Y, float* lse) {
  if (batch.max_points == 0) return;
  const std::size_t smem =
      (2 * std::size_t(s.M) * (s.D + kPad) + std::size_t(s.D) * (s.M + kPad)) * sizeof(bf16);
  const dim3 grid = head_major_grid((batch.max_points + kRows - 1) / kRows, s.H, batch.B);
  FLARE_D_SWITCH(s.D, {
    auto kern = decode_fwd_tc_kernel<DD>;
    FLARE_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    kern<<<grid, kWarps * 32, smem, ctx.stream()>>>(Q, K, Z, batch.offsets, s.H, s.M,
                                                    s.scale * kLog2e, Y, lse);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

}  // namespace flare::cuda::tc
