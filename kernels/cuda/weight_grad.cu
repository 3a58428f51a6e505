// Grouped weight gradients (weight_grad.cuh). A block owns one 64×64 tile of one term's dW and
// a slab of points; it walks the slab 64 points at a time: both operands' rows go into shared
// memory (the next stage's loads are issued before this stage's products, so they are in flight
// while the tensor cores work), then each of the 8 warps multiplies its 16×32 corner of the tile
// (aᵀ from ldmatrix.trans, x from ldmatrix.trans: both are stored points-major). At the end the
// tile's fp32 sums are added into dW.
#include "kernels/cuda/weight_grad.cuh"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/mma.cuh"

namespace flare::cuda {
namespace {

constexpr int kTile = 64;                 // output tile: 64 outputs × 64 inputs
constexpr int kStage = 64;                // points per shared-memory stage
constexpr int kLd = kTile + tc::kPad;     // shared-memory row (conflict-free ldmatrix)
constexpr int kThreads = 256;             // 8 warps: 4 (16 outputs) × 2 (32 inputs)

struct Job {
  WeightGradTerm t[kMaxWeightGradTerms];
  int tile0[kMaxWeightGradTerms + 1];  // first global tile index of each term
  int n_terms = 0;
  std::int64_t rows_per_block = 0;     // a multiple of kStage
  std::int64_t N = 0;
};

// This thread's 16 values of a stage (row tid/4, columns 16·(tid%4)..+15 of the 64-wide window at
// column c0 of a [N, width] tensor): one pair of 16-byte loads where the window row is whole and
// aligned, else element by element with zeros past the tensor's edges.
struct Fetch {
  uint4 v[2];
};
__device__ inline Fetch fetch(const bf16* __restrict__ src, int width, int c0, std::int64_t row,
                              bool valid) {
  Fetch f;
  const int col = c0 + 16 * (threadIdx.x % 4);
  const bf16* p = src + row * width + col;
  if (valid && col + 16 <= width && width % 8 == 0 &&
      reinterpret_cast<std::uintptr_t>(p) % 16 == 0) {
    f.v[0] = reinterpret_cast<const uint4*>(p)[0];
    f.v[1] = reinterpret_cast<const uint4*>(p)[1];
    return f;
  }
  bf16 e[16];
#pragma unroll
  for (int j = 0; j < 16; ++j)
    e[j] = valid && col + j < width ? p[j] : __float2bfloat16_rn(0.f);
  std::memcpy(&f.v, e, sizeof e);
  return f;
}
__device__ inline void commit(bf16* s, const Fetch& f) {
  uint4* d = reinterpret_cast<uint4*>(s + (threadIdx.x / 4) * kLd + 16 * (threadIdx.x % 4));
  d[0] = f.v[0];
  d[1] = f.v[1];
}

__global__ void __launch_bounds__(kThreads) weight_grads_kernel(const Job job) {
  __shared__ __align__(16) bf16 as[kStage * kLd];  // a rows of the stage, [point][output]
  __shared__ __align__(16) bf16 xs[kStage * kLd];  // x rows, [point][input]
  int j = 0;
  while (j + 1 < job.n_terms && int(blockIdx.y) >= job.tile0[j + 1]) ++j;
  const WeightGradTerm& t = job.t[j];
  const int tile = int(blockIdx.y) - job.tile0[j], in_tiles = (t.in + kTile - 1) / kTile;
  const int m0 = (tile / in_tiles) * kTile, n0 = (tile % in_tiles) * kTile;
  const std::int64_t r_begin = std::int64_t(blockIdx.x) * job.rows_per_block;
  const std::int64_t r_end = std::min(job.N, r_begin + job.rows_per_block);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp % 4) * 16, wn = (warp / 4) * 32;
  float acc[4][4] = {};
  auto load = [&](std::int64_t r0, Fetch& fa, Fetch& fx) {
    const std::int64_t row = r0 + threadIdx.x / 4;
    const bool valid = row < r_end;
    fa = fetch(t.a, t.out, m0, row, valid);
    fx = fetch(t.x, t.in, n0, row, valid);
  };
  Fetch fa, fx;
  load(r_begin, fa, fx);
  for (std::int64_t r0 = r_begin; r0 < r_end; r0 += kStage) {
    __syncthreads();  // the previous stage's products are done with the buffers
    commit(as, fa);
    commit(xs, fx);
    __syncthreads();
    if (r0 + kStage < r_end) load(r0 + kStage, fa, fx);
#pragma unroll
    for (int k = 0; k < kStage; k += 16) {
      std::uint32_t a[4];
      tc::ldsm_x4_trans_a(a, as + k * kLd + wm, kLd);
#pragma unroll
      for (int p = 0; p < 2; ++p) {
        std::uint32_t b[4];
        tc::ldsm_x4_trans(b, xs + k * kLd + wn + 16 * p, kLd);
        tc::mma_bf16(acc[2 * p], a, b[0], b[1]);
        tc::mma_bf16(acc[2 * p + 1], a, b[2], b[3]);
      }
    }
  }

  // Accumulator (m16n8 layout): rows g, g + 8 of the warp's 16 outputs, columns 2t, 2t + 1.
  const int g = lane / 4, tq = lane % 4;
#pragma unroll
  for (int nt = 0; nt < 4; ++nt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int o = m0 + wm + g + 8 * h, i = n0 + wn + 8 * nt + 2 * tq;
      if (o >= t.out || i >= t.in) continue;
      float* d = t.dW + std::int64_t(o) * t.in + i;
      const float v0 = acc[nt][2 * h], v1 = acc[nt][2 * h + 1];
      if (i + 1 < t.in) {
#if __CUDA_ARCH__ >= 900
        if (reinterpret_cast<std::uintptr_t>(d) % 8 == 0) {
          atomicAdd(reinterpret_cast<float2*>(d), float2{v0, v1});
          continue;
        }
#endif
        atomicAdd(d + 1, v1);
      }
      atomicAdd(d, v0);
    }
}

}  // namespace

WeightGradPath default_weight_grad_path() {
  static const WeightGradPath path = [] {
    const char* e = std::getenv("FLARE_WEIGHT_GRAD");
    if (!e || !std::strcmp(e, "grouped")) return WeightGradPath::kGrouped;
    FLARE_CHECK(!std::strcmp(e, "gemm"), "FLARE_WEIGHT_GRAD=", e, ": expected 'grouped' or 'gemm'");
    return WeightGradPath::kGemm;
  }();
  return path;
}

void weight_grads(CudaContext& ctx, const WeightGradTerm* terms, int n_terms, std::int64_t N) {
  NVTX_RANGE_FN();
  FLARE_CHECK(n_terms >= 1 && n_terms <= kMaxWeightGradTerms, "weight_grads: ", n_terms,
              " terms (1..", kMaxWeightGradTerms, ")");
  if (N <= 0) return;
  Job job;
  job.n_terms = n_terms;
  job.N = N;
  job.tile0[0] = 0;
  for (int j = 0; j < n_terms; ++j) {
    const WeightGradTerm& t = terms[j];
    FLARE_CHECK(t.a && t.x && t.dW && t.out >= 1 && t.in >= 1, "weight_grads: term ", j,
                " has no operand or an empty shape (out ", t.out, ", in ", t.in, ")");
    job.t[j] = t;
    job.tile0[j + 1] =
        job.tile0[j] + ((t.out + kTile - 1) / kTile) * ((t.in + kTile - 1) / kTile);
  }
  // Enough slabs per tile for about four blocks per SM (each block's atomics are one tile's
  // 4,096 adds; more blocks than that only add atomics), whole stages each.
  const int tiles = job.tile0[n_terms];
  const std::int64_t stages = (N + kStage - 1) / kStage;
  const std::int64_t want = std::max<std::int64_t>(1, (4 * ctx.sm_count() + tiles - 1) / tiles);
  const std::int64_t per = (stages + std::min(want, stages) - 1) / std::min(want, stages);
  job.rows_per_block = per * kStage;
  const dim3 grid(unsigned((N + job.rows_per_block - 1) / job.rows_per_block), unsigned(tiles));
  weight_grads_kernel<<<grid, kThreads, 0, ctx.stream()>>>(job);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

}  // namespace flare::cuda
