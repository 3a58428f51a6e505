// Fused ResidualMLP forward and backward (tiny-cuda-nn's fully fused MLP, adapted to residual
// layers and bf16 mma.sync.m16n8k16 with fp32 accumulators).
//
// Every weight of the MLP sits in shared memory for the whole (persistent) block: hidden rows of
// hidden + 8 bf16, zero-padded to hidden×hidden for the first (in < hidden) and last (out <
// hidden) layers so one loop shape serves all. A warp owns 16 points at a time. The output
// accumulators of two adjacent 8-column tiles are exactly the A operand of the next 16-deep
// product (the FlashAttention-2 register trick), so a layer's output becomes the next layer's
// input without leaving registers; the residual stream h stays fp32 and is rounded to bf16 only
// as an MMA operand and when stored.
//
// GELU goes through fast exp/reciprocal intrinsics (gelu_terms below): with tanhf the
// epilogue's FP32 work would rival the MMAs at hidden 64.
// Shared-memory rows are padded by 8 bf16 so the 8 rows of each ldmatrix hit distinct banks.
// Fragment layouts: PTX ISA, "Matrix Fragments for mma.m16n8k16".
#include "kernels/cuda/residual_mlp.cuh"

#include <algorithm>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/linear.cuh"

namespace flare::cuda {
namespace {

using tc::acc_to_a;
using tc::ldsm_x4;
using tc::ldsm_x4_trans;
using tc::mma_bf16;

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = tc::kPad;
constexpr float kGeluC = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluA = 0.044715f;

// GELU (tanh form) through the logistic function: 0.5·(1 + tanh u) = σ(2u), so gelu(v) = v·σ(2u)
// and gelu'(v) = σ + 2v·σ(1 − σ)·u'. Two fast intrinsics (ex2, rcp) with ~1e-7 relative
// error and no cancellation where 1 + tanh u is tiny (v ≪ 0): the hardware tanh.approx (one
// instruction, but 2^-11 absolute error) loses most digits of gelu' there, which measurably cost
// gradient accuracy. The exponent is clamped (2^115 < FLT_MAX, and 1 + e stays under
// __fdividef's 2^126 limit) so that 1 − σ = e·σ never forms inf·0.
struct GeluTerms {
  float s, one_minus_s, du;  // σ(2u), 1 − σ(2u), du/dv
};
__device__ inline GeluTerms gelu_terms(float v) {
  // e = exp(−2u) = 2^(v·(c1 + c2·v²)), u = kGeluC·(v + kGeluA·v³)
  constexpr float c1 = -2.f * kGeluC * tc::kLog2e, c2 = c1 * kGeluA;
  const float v2 = v * v;
  float e;  // ex2.approx: what __expf uses after its multiply (exp2f adds denormal handling)
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(fminf(v * fmaf(c2, v2, c1), 115.f)));
  const float s = __fdividef(1.f, 1.f + e);
  return {s, e * s, kGeluC * fmaf(3.f * kGeluA, v2, 1.f)};
}
__device__ inline float gelu_grad(float v, const GeluTerms& g) {
  return g.s + 2.f * v * g.s * g.one_minus_s * g.du;
}

__device__ inline float2 load_pair(const bf16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ inline void store_pair(bf16* p, float lo, float hi) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(lo, hi);
}

// Weights and biases; the backward adds its per-block bias-gradient sums and, with stash, every
// warp's gelu'(pre) of every hidden layer (bf16).
std::size_t smem_bytes(int hidden, int n_linear, bool backward, bool stash = false) {
  return std::size_t(n_linear) * hidden * (hidden + kPad) * sizeof(bf16) +
         std::size_t(n_linear) * hidden * sizeof(float) * (backward ? 2 : 1) +
         (stash ? std::size_t(kWarps) * (n_linear - 1) * 16 * hidden * sizeof(bf16) : 0);
}

// Register tiles: thread (g = lane/4, t = lane%4) holds, for each 8-column tile nt, columns
// 8nt + 2t + {0, 1} of rows g ([0], [1]) and g + 8 ([2], [3]): the m16n8 accumulator layout.
template <int HID>
using Tile = float[HID / 8][4];

// Every layer's weights into shared memory as [HID][HID + kPad] bf16 in nn.Linear layout (rows =
// outputs), zero-padded, and the biases into bs [n_lin][HID], zero-padded. The forward reads W as
// the B operand of x·Wᵀ with plain ldmatrix, the backward as the B operand of dh·W with
// ldmatrix.trans: one copy serves both.
template <int HID>
__device__ void load_weights(const ResidualMlpArgs& p, bf16* ws, float* bs) {
  constexpr int LDW = HID + kPad;
  const int n_lin = p.layers + 2;
  for (int l = 0; l < n_lin; ++l) {
    const int rows = l == n_lin - 1 ? p.out : p.hidden;
    const int cols = l == 0 ? p.in : p.hidden;
    const bf16* W = p.W[l];
    for (int i = threadIdx.x; i < HID * HID; i += kThreads) {
      const int r = i / HID, c = i % HID;
      ws[(l * HID + r) * LDW + c] = r < rows && c < cols ? W[r * cols + c] : __float2bfloat16_rn(0.f);
    }
    for (int r = threadIdx.x; r < HID; r += kThreads)
      bs[l * HID + r] = p.b[l] && r < rows ? p.b[l][r] : 0.f;
  }
}

// Rows r0 = 16·tile + g and r1 = r0 + 8 of a [N, cols] bf16 tensor into a register tile, zero
// beyond cols and past N (valid flags v0, v1). Pairs of columns at once when rows are HID wide.
template <int HID>
__device__ inline void load_tile(const bf16* __restrict__ src, int cols, std::int64_t r0,
                                 std::int64_t r1, bool v0, bool v1, int t, Tile<HID>& h) {
#pragma unroll
  for (int nt = 0; nt < HID / 8; ++nt) {
    const int col = nt * 8 + 2 * t;
    if (cols == HID) {
      const float2 a = v0 ? load_pair(src + r0 * HID + col) : float2{0.f, 0.f};
      const float2 b = v1 ? load_pair(src + r1 * HID + col) : float2{0.f, 0.f};
      h[nt][0] = a.x, h[nt][1] = a.y, h[nt][2] = b.x, h[nt][3] = b.y;
    } else {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        h[nt][j] = v0 && col + j < cols ? __bfloat162float(src[r0 * cols + col + j]) : 0.f;
        h[nt][2 + j] = v1 && col + j < cols ? __bfloat162float(src[r1 * cols + col + j]) : 0.f;
      }
    }
  }
}

template <int HID>
__device__ inline void store_tile(bf16* __restrict__ dst, int cols, std::int64_t r0,
                                  std::int64_t r1, bool v0, bool v1, int t, const Tile<HID>& h) {
#pragma unroll
  for (int nt = 0; nt < HID / 8; ++nt) {
    const int col = nt * 8 + 2 * t;
    if (cols == HID) {
      if (v0) store_pair(dst + r0 * HID + col, h[nt][0], h[nt][1]);
      if (v1) store_pair(dst + r1 * HID + col, h[nt][2], h[nt][3]);
    } else {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        if (col + j >= cols) continue;
        if (v0) dst[r0 * cols + col + j] = __float2bfloat16_rn(h[nt][j]);
        if (v1) dst[r1 * cols + col + j] = __float2bfloat16_rn(h[nt][2 + j]);
      }
    }
  }
}

// acc [16 × 8·nts] += bf16(h) [16 × 16·kts] · B with B from w ([HID][LDW], nn.Linear layout W
// [out][in]): B = Wᵀ (forward: B's column n is row n of w, plain ldmatrix) or, with Trans, B = W
// (backward dh·W: B's row k is row k of w, ldmatrix.trans). B fragments come two 8-column tiles
// at a time (ldmatrix.x4); with an odd nts the second tile reads the zero padding and its product
// is skipped.
template <int HID, bool Trans>
__device__ inline void tile_matmul(Tile<HID>& acc, const Tile<HID>& h, const bf16* w, int kts,
                                   int nts) {
  constexpr int LDW = HID + kPad;
#pragma unroll
  for (int kt = 0; kt < HID / 16; ++kt) {
    if (kt >= kts) break;
    std::uint32_t a[4];
    acc_to_a(h[2 * kt], h[2 * kt + 1], a);
#pragma unroll
    for (int nt = 0; nt < HID / 8; nt += 2) {
      if (nt >= nts) break;
      std::uint32_t b[4];
      if constexpr (Trans)
        ldsm_x4_trans(b, w + kt * 16 * LDW + nt * 8, LDW);
      else
        ldsm_x4(b, w + nt * 8 * LDW + kt * 16, LDW);
      mma_bf16(acc[nt], a, b[0], b[1]);
      if (nt + 1 < nts) mma_bf16(acc[nt + 1], a, b[2], b[3]);
    }
  }
}

// acc = b_l + bf16(h)·W_lᵀ: layer l's pre-activation, the same instructions in the forward and in
// the backward's recomputation, so both see the same values.
template <int HID>
__device__ inline void layer_pre(const ResidualMlpArgs& p, const bf16* ws, const float* bs, int l,
                                 const Tile<HID>& h, Tile<HID>& acc) {
  constexpr int NT = HID / 8, LDW = HID + kPad;
  const int t = threadIdx.x % 4, n_lin = p.layers + 2;
  const float* bl = bs + l * HID;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const float b0 = bl[nt * 8 + 2 * t], b1 = bl[nt * 8 + 2 * t + 1];
    acc[nt][0] = b0, acc[nt][1] = b1, acc[nt][2] = b0, acc[nt][3] = b1;
  }
  tile_matmul<HID, false>(acc, h, ws + l * HID * LDW, l == 0 ? (p.in + 15) / 16 : HID / 16,
                          l == n_lin - 1 ? (p.out + 7) / 8 : NT);
}

// Hidden layer l on the warp's tile: h = act(pre) (the first layer without input residual) or
// h + act(pre), pre = layer_pre(h). With Grad, acc is left holding gelu'(pre) (the backward's
// first pass). The forward and the backward's recomputation share these instructions, so the
// backward sees the forward's own states.
template <int HID, bool Grad>
__device__ inline void hidden_layer(const ResidualMlpArgs& p, const bf16* ws, const float* bs,
                                    int l, Tile<HID>& h, Tile<HID>& acc) {
  layer_pre<HID>(p, ws, bs, l, h, acc);
  const bool residual = l > 0 || p.input_residual;
#pragma unroll
  for (int nt = 0; nt < HID / 8; ++nt)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float v = acc[nt][j];
      const GeluTerms gt = gelu_terms(v);
      h[nt][j] = residual ? h[nt][j] + v * gt.s : v * gt.s;
      if constexpr (Grad) acc[nt][j] = gelu_grad(v, gt);
    }
}

template <int HID>
__global__ void __launch_bounds__(kThreads, HID >= 128 ? 1 : 2)
    residual_mlp_fwd_kernel(const ResidualMlpArgs p, const bf16* __restrict__ x,
                            bf16* __restrict__ y, std::int64_t N) {
  constexpr int NT = HID / 8, LDW = HID + kPad;
  extern __shared__ __align__(16) unsigned char smem[];
  const int n_lin = p.layers + 2;
  bf16* ws = reinterpret_cast<bf16*>(smem);                       // [n_lin][HID][LDW]
  float* bs = reinterpret_cast<float*>(ws + n_lin * HID * LDW);  // [n_lin][HID]
  load_weights<HID>(p, ws, bs);
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const std::int64_t n_tiles = (N + 15) / 16;
  for (std::int64_t tile = std::int64_t(blockIdx.x) * kWarps + warp; tile < n_tiles;
       tile += std::int64_t(gridDim.x) * kWarps) {
    const std::int64_t r0 = tile * 16 + g, r1 = r0 + 8;
    const bool v0 = r0 < N, v1 = r1 < N;
    Tile<HID> h, acc;
    load_tile<HID>(x, p.in, r0, r1, v0, v1, t, h);
    for (int l = 0; l < n_lin - 1; ++l) hidden_layer<HID, false>(p, ws, bs, l, h, acc);
    layer_pre<HID>(p, ws, bs, n_lin - 1, h, acc);
    if (p.output_residual)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[nt][j] += h[nt][j];
    if (p.residual) {
      load_tile<HID>(p.residual, p.out, r0, r1, v0, v1, t, h);  // h is dead: reuse it
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[nt][j] += h[nt][j];
    }
    store_tile<HID>(y, p.out, r0, r1, v0, v1, t, acc);
  }
}

// Σ over the warp's 16 rows of each column of v, added into col_sums [HID] (shared memory).
template <int HID>
__device__ inline void add_column_sums(const Tile<HID>& v, float* col_sums, int lane) {
#pragma unroll
  for (int nt = 0; nt < HID / 8; ++nt)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      float s = v[nt][j] + v[nt][2 + j];
      s += __shfl_xor_sync(0xffffffffu, s, 4);
      s += __shfl_xor_sync(0xffffffffu, s, 8);
      s += __shfl_xor_sync(0xffffffffu, s, 16);
      if (lane < 4) atomicAdd(col_sums + nt * 8 + 2 * lane + j, s);
    }
}

// gelu'(pre) of each hidden layer between the backward's two passes: in shared memory when it
// fits beside the weights without costing occupancy (per warp, each thread's own fragments as
// bf16 pairs, [layer][nt][half][lane]: no bank conflicts), else in da[l]. ncu, H100, default
// model, 1M points, one bf16 step: the 34 backward kernels moved 50.0 GB through DRAM with gelu'
// in global memory and 42.8 GB with it here (37.8 -> 37.1 ms: the kernel is latency-bound at
// 16 warps an SM, not bandwidth-bound).
template <int HID>
__device__ inline void put_gelu_grad(const ResidualMlpArgs& p, std::uint32_t* gs, int l,
                                     std::int64_t r0, std::int64_t r1, bool v0, bool v1,
                                     const Tile<HID>& v) {
  constexpr int NT = HID / 8;
  const int lane = threadIdx.x % 32;
  if (!gs) return store_tile<HID>(p.da[l], HID, r0, r1, v0, v1, lane % 4, v);
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    gs[((l * NT + nt) * 2 + 0) * 32 + lane] = tc::pack_bf16(v[nt][0], v[nt][1]);
    gs[((l * NT + nt) * 2 + 1) * 32 + lane] = tc::pack_bf16(v[nt][2], v[nt][3]);
  }
}
template <int HID>
__device__ inline void get_gelu_grad(const ResidualMlpArgs& p, const std::uint32_t* gs, int l,
                                     std::int64_t r0, std::int64_t r1, bool v0, bool v1,
                                     Tile<HID>& v) {
  constexpr int NT = HID / 8;
  const int lane = threadIdx.x % 32;
  if (!gs) return load_tile<HID>(p.da[l], HID, r0, r1, v0, v1, lane % 4, v);
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const std::uint32_t u = gs[((l * NT + nt) * 2 + half) * 32 + lane];
      const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u));
      v[nt][2 * half] = f.x, v[nt][2 * half + 1] = f.y;
    }
}

// The backward from the MLP's input alone. A warp first re-runs its 16 points through the hidden
// layers (hidden_layer: the forward's own instructions), writing each state to hid[l] (the input
// of the next layer's weight gradient) and stashing gelu'(pre) (put_gelu_grad); then it runs the
// chain from dy to dx, writing each pre-activation gradient to da[l]. Bias gradients are summed
// here (per block in shared memory, then one atomic per column and block); the weight gradients
// are GEMMs over hid/da after the kernel.
template <int HID>
__global__ void __launch_bounds__(kThreads, HID >= 128 ? 1 : 2)
    residual_mlp_bwd_kernel(const ResidualMlpArgs p, const bf16* __restrict__ x,
                            const bf16* __restrict__ dy, bf16* __restrict__ dx, std::int64_t N,
                            bool stash_in_smem) {
  constexpr int NT = HID / 8, LDW = HID + kPad;
  extern __shared__ __align__(16) unsigned char smem[];
  const int n_lin = p.layers + 2;
  bf16* ws = reinterpret_cast<bf16*>(smem);                       // [n_lin][HID][LDW]
  float* bs = reinterpret_cast<float*>(ws + n_lin * HID * LDW);  // [n_lin][HID]
  float* dbs = bs + n_lin * HID;                                  // [n_lin][HID]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  std::uint32_t* gs = stash_in_smem  // [kWarps][n_lin - 1][NT][2][32]
                          ? reinterpret_cast<std::uint32_t*>(dbs + n_lin * HID) +
                                warp * (n_lin - 1) * NT * 64
                          : nullptr;
  load_weights<HID>(p, ws, bs);
  for (int i = threadIdx.x; i < n_lin * HID; i += kThreads) dbs[i] = 0.f;
  __syncthreads();

  const std::int64_t n_tiles = (N + 15) / 16;
  for (std::int64_t tile = std::int64_t(blockIdx.x) * kWarps + warp; tile < n_tiles;
       tile += std::int64_t(gridDim.x) * kWarps) {
    const std::int64_t r0 = tile * 16 + g, r1 = r0 + 8;
    const bool v0 = r0 < N, v1 = r1 < N;
    Tile<HID> h, acc;
    if (n_lin > 1) load_tile<HID>(x, p.in, r0, r1, v0, v1, t, h);
    for (int l = 0; l < n_lin - 1; ++l) {
      hidden_layer<HID, true>(p, ws, bs, l, h, acc);
      store_tile<HID>(p.hid[l], HID, r0, r1, v0, v1, t, h);
      put_gelu_grad<HID>(p, gs, l, r0, r1, v0, v1, acc);
    }

    Tile<HID>& grad = acc;
    Tile<HID>& dh = h;
    // Output layer: dh = dy·W2 (+ dy through the output residual).
    load_tile<HID>(dy, p.out, r0, r1, v0, v1, t, grad);
    add_column_sums<HID>(grad, dbs + (n_lin - 1) * HID, lane);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int j = 0; j < 4; ++j) dh[nt][j] = p.output_residual ? grad[nt][j] : 0.f;
    tile_matmul<HID, true>(dh, grad, ws + (n_lin - 1) * HID * LDW, (p.out + 15) / 16,
                           n_lin == 1 ? (p.in + 7) / 8 : NT);
    // Hidden layers, last to first: h_l = h_{l-1} + act(pre_l) (no h_{-1} term without the
    // input residual).
    for (int l = n_lin - 2; l >= 0; --l) {
      get_gelu_grad<HID>(p, gs, l, r0, r1, v0, v1, grad);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j) grad[nt][j] *= dh[nt][j];
      store_tile<HID>(p.da[l], HID, r0, r1, v0, v1, t, grad);
      add_column_sums<HID>(grad, dbs + l * HID, lane);
      if (l == 0 && !dx) break;
      if (l == 0 && !p.input_residual)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int j = 0; j < 4; ++j) dh[nt][j] = 0.f;
      tile_matmul<HID, true>(dh, grad, ws + l * HID * LDW, HID / 16,
                             l == 0 ? (p.in + 7) / 8 : NT);
    }
    if (dx) {  // dx += dh
      load_tile<HID>(dx, p.in, r0, r1, v0, v1, t, grad);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j) grad[nt][j] += dh[nt][j];
      store_tile<HID>(dx, p.in, r0, r1, v0, v1, t, grad);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n_lin * HID; i += kThreads) {
    const int l = i / HID, r = i % HID;
    if (p.db[l] && r < (l == n_lin - 1 ? p.out : p.hidden)) atomicAdd(p.db[l] + r, dbs[i]);
  }
}

// Blocks per SM of kern with smem bytes of dynamic shared memory (the limit is raised first: the
// query counts a block that does not fit under it as 0).
template <typename Kernel>
int occupancy(Kernel kern, std::size_t smem) {
  FLARE_CUDA_CHECK(
      cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  int blocks = 0;
  FLARE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kern, kThreads, smem));
  return blocks;
}

// How a kernel runs an MLP depth on a device, worked out at its first launch there: the dynamic
// shared memory, whether the backward stashes gelu' in it (where that keeps the blocks per SM),
// and the blocks per SM.
struct LaunchPlan {
  std::size_t smem = 0;
  bool stash = false;
  int blocks_per_sm = 0;
};

template <int HID, bool Backward, typename Kernel>
LaunchPlan make_plan(const CudaContext& ctx, Kernel kern, int n_lin) {
  LaunchPlan plan;
  plan.smem = smem_bytes(HID, n_lin, Backward);
  plan.blocks_per_sm = occupancy(kern, plan.smem);
  if constexpr (Backward) {
    const std::size_t with = smem_bytes(HID, n_lin, true, true);
    if (with <= ctx.props().sharedMemPerBlockOptin) {
      const int blocks = occupancy(kern, with);
      if (blocks >= plan.blocks_per_sm) plan = {with, true, blocks};
    }
  }
  FLARE_CHECK(plan.blocks_per_sm > 0, "residual_mlp: no block of ", plan.smem,
              " bytes fits an SM");
  return plan;
}

template <int HID, bool Backward, typename... Tensors>
void launch(CudaContext& ctx, const ResidualMlpArgs& p, std::int64_t N, Tensors... tensors) {
  const int n_lin = p.layers + 2;
  const auto kern = [] {
    if constexpr (Backward) return residual_mlp_bwd_kernel<HID>;
    else return residual_mlp_fwd_kernel<HID>;
  }();
  constexpr int kDevices = 64;
  static LaunchPlan plans[kDevices][ResidualMlpArgs::kMaxLinear + 1];
  FLARE_CHECK(ctx.device() < kDevices, "residual_mlp: device ", ctx.device());
  LaunchPlan& plan = plans[ctx.device()][n_lin];
  if (plan.blocks_per_sm == 0) plan = make_plan<HID, Backward>(ctx, kern, n_lin);
  // The shared-memory limit is a property of the kernel, not of the launch: it is set before
  // every launch, since MLPs of other depths share the kernel and a smaller limit set for one of
  // them would make a deeper MLP's launch fail (a cheap host call).
  FLARE_CUDA_CHECK(
      cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(plan.smem)));
  const std::int64_t blocks = (N + 16 * kWarps - 1) / (16 * kWarps);
  const unsigned grid = unsigned(
      std::min<std::int64_t>(blocks, std::int64_t(ctx.sm_count()) * plan.blocks_per_sm));
  if constexpr (Backward)
    kern<<<grid, kThreads, plan.smem, ctx.stream()>>>(p, tensors..., N, plan.stash);
  else
    kern<<<grid, kThreads, plan.smem, ctx.stream()>>>(p, tensors..., N);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <bool Backward, typename... Tensors>
void launch_hidden(CudaContext& ctx, const ResidualMlpArgs& p, std::int64_t N,
                   Tensors... tensors) {
  switch (p.hidden) {
    case 32: return launch<32, Backward>(ctx, p, N, tensors...);
    case 64: return launch<64, Backward>(ctx, p, N, tensors...);
    default: return launch<128, Backward>(ctx, p, N, tensors...);
  }
}

}  // namespace

bool residual_mlp_supported(const CudaContext& ctx, const ResidualMlpArgs& p, const bf16* x,
                            const bf16* y) {
  const int hid = p.hidden;
  if (hid != 32 && hid != 64 && hid != 128) return false;
  if (p.layers < -1 || p.layers > ResidualMlpArgs::kMaxLinear - 2) return false;
  if (p.in < 1 || p.in > hid || p.out < 1 || p.out > hid) return false;
  if (p.input_residual && p.in != hid) return false;
  if (p.output_residual && (p.out != hid || (p.layers < 0 && p.in != hid))) return false;
  // Shared memory: every weight of the MLP at once, and the backward's bias sums (227 KB opt-in
  // on sm_90, 163 KB on sm_80).
  if (smem_bytes(hid, p.layers + 2, true) > ctx.props().sharedMemPerBlockOptin) return false;
  for (int l = 0; l < p.layers + 2; ++l)
    if (!p.W[l]) return false;
  if ((p.in == hid && !aligned(x, 4)) || (p.out == hid && !aligned(y, 4))) return false;
  if (p.residual && p.out == hid && !aligned(p.residual, 4)) return false;
  return true;
}

bool residual_mlp_bwd_supported(const CudaContext& ctx, const ResidualMlpArgs& p, const bf16* x,
                                const bf16* dy, const bf16* dx) {
  if (!residual_mlp_supported(ctx, p, x, dy)) return false;
  if (p.in == p.hidden && !aligned(dx, 4)) return false;
  for (int l = 0; l <= p.layers; ++l)
    if (!p.hid[l] || !p.da[l] || !aligned(p.hid[l], 4) || !aligned(p.da[l], 4)) return false;
  return true;
}

void residual_mlp_fwd(CudaContext& ctx, const ResidualMlpArgs& p, const bf16* x, bf16* y,
                      std::int64_t N) {
  NVTX_RANGE_FN();
  FLARE_CHECK(residual_mlp_supported(ctx, p, x, y), "residual_mlp_fwd: unsupported MLP (in ", p.in,
              ", hidden ", p.hidden, ", out ", p.out, ", layers ", p.layers,
              ") or misaligned tensors");
  if (N > 0) launch_hidden<false>(ctx, p, N, x, y);
}

void residual_mlp_bwd(CudaContext& ctx, const ResidualMlpArgs& p, const bf16* x, const bf16* dy,
                      bf16* dx, std::int64_t N) {
  NVTX_RANGE_FN();
  FLARE_CHECK(residual_mlp_bwd_supported(ctx, p, x, dy, dx),
              "residual_mlp_bwd: unsupported MLP (in ", p.in, ", hidden ", p.hidden, ", out ",
              p.out, ", layers ", p.layers, "), misaligned tensors or no scratch");
  if (N <= 0) return;
  launch_hidden<true>(ctx, p, N, x, dy, dx);
  // Weight gradients: dW_l += da_lᵀ · (input of layer l), N deep; the kernel left each input in
  // hid and each da_l in da (the output layer's is dy), and summed the biases.
  const int last = p.layers + 1;
  WeightGradTerm terms[ResidualMlpArgs::kMaxLinear];
  int n = 0;
  for (int l = 0; l <= last; ++l) {
    if (!p.dW[l]) continue;
    const bool out_layer = l == last;
    terms[n++] = {out_layer ? dy : p.da[l], l == 0 ? x : p.hid[l - 1], p.dW[l],
                  out_layer ? p.out : p.hidden, l == 0 ? p.in : p.hidden};
  }
  if (n == 0) return;
  const WeightGradPath path =
      p.weight_grad == WeightGradPath::kAuto ? default_weight_grad_path() : p.weight_grad;
  if (path == WeightGradPath::kGrouped) return weight_grads(ctx, terms, n, N);
  for (int j = 0; j < n; ++j)
    linear_bwd<bf16>(ctx, terms[j].x, nullptr, terms[j].a, nullptr, terms[j].dW, nullptr, N,
                     terms[j].in, terms[j].out);
}

}  // namespace flare::cuda
