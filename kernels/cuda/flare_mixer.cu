// FLARE mixer kernels (fp32 and bf16 point tensors, fp32 arithmetic). Version 1: CUDA-core FMA
// kernels in two shapes, no N×M matrix anywhere.
//
// "Point-side" kernels (one thread per point n of head h; Q, Z, dZ of the head in shared memory,
// read as warp-wide broadcasts; the thread's k/v/dy rows in registers):
//   flare_decode_fwd_kernel  online softmax over the M latents, Y and the per-point lse.
//   flare_point_bwd_kernel   recomputes the scores once per (n, m) and from them dK of BOTH
//                            stages (decode and encode) and dV: the fused dK pass.
// "Latent-side" kernels (one thread per latent m; a chunk of points streamed through shared
// memory in tiles of TILE_P rows, converted to fp32 once; G = 128/MT groups of threads take
// alternate points of a tile and are merged in shared memory at the end):
//   flare_encode_partial_kernel  flash-decoding split: per chunk (max, sum, acc) in log2 units,
//                                merged exactly by flare_encode_combine_kernel.
//   flare_decode_bwd_latent_kernel  dQ (decode part) and dZ partial sums over the chunk.
//   flare_encode_bwd_latent_kernel  dQ (encode part) partial sums over the chunk.
//   sum_partials_kernel          adds the chunk partials into dQ (also over meshes) or dZ.
// Scores live in log2 units (q pre-multiplied by s·log2 e, exp2f), lse is stored in natural log.
//
// Memory plan: partials are [B, H, chunks, M, D+2] floats in CudaContext::scratch (chunks chosen
// so that ~4 blocks per SM are busy; a few MB at N = 1M), nothing else is allocated.
// Traffic per forward: K, V read once by encode (twice when M > 128: two latent tiles), K read and
// Y written by decode. Backward: the delta pass reads K, dY (writes delta [N,H] fp32); L1 reads
// K, dY; the point pass reads K, V, dY and read-modify-writes dK, dV; L2 reads K, V. The saved Y
// is not read by the backward (delta is recomputed from the scores: see the delta kernel).
//
// Limits (known, v1): FMA on CUDA cores: at N = 1M, H = 8, D = 32, M = 64 (H100, bf16) the forward
// takes 5.7 ms (23 TFLOP/s) and forward + backward 25.5 ms; bf16 therefore runs the tensor-core
// version 2 where the shape allows (forward: flare_mixer_tc.cu, 2.2 ms; backward:
// flare_mixer_tc_bwd.cu, 4.7 ms instead of 20 ms), and this file's kernels serve fp32 and
// M % 16 != 0. D = 64 keeps 4·D floats per thread in the backward kernels and spills (ptxas: up
// to 4.6 KB of spill stores in the D = 64 latent kernels).
// Measured numbers and the command: kernels/cuda/README.md, bench_mixer_h100.md.
#include "kernels/cuda/flare_mixer.cuh"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/flare_mixer_tc.cuh"

namespace flare::cuda {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kLatentThreads = 128;
constexpr int kPointThreads = 256;
constexpr int TILE_P = 32;

// Cooperative load of rows [n0, n0+np) of head h from a [ΣN, C] tensor into dst [TILE_P, D] as
// fp32; rows past np are zero-filled so no garbage enters a dot product.
template <typename T, int D>
__device__ inline void load_tile(const T* __restrict__ src, std::int64_t n0, int np, int C, int h,
                                 float* __restrict__ dst) {
  constexpr int VEC = Vec<T>::N;
  constexpr int PER_ROW = D / VEC;
  for (int i = threadIdx.x; i < TILE_P * PER_ROW; i += blockDim.x) {
    int p = i / PER_ROW, v = i % PER_ROW;
    float tmp[VEC];
    if (p < np) {
      load_vec<T>(src + (n0 + p) * C + h * D + v * VEC, tmp);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) tmp[j] = 0.f;
    }
#pragma unroll
    for (int j = 0; j < VEC; ++j) dst[p * D + v * VEC + j] = tmp[j];
  }
}

template <int D>
__device__ inline float dot_smem(const float (&a)[D], const float* __restrict__ b) {
  float s = 0.f;
#pragma unroll
  for (int d = 0; d < D; d += 4) {
    float4 x = *reinterpret_cast<const float4*>(b + d);
    s = fmaf(a[d], x.x, s);
    s = fmaf(a[d + 1], x.y, s);
    s = fmaf(a[d + 2], x.z, s);
    s = fmaf(a[d + 3], x.w, s);
  }
  return s;
}

template <int D>
__device__ inline void axpy_smem(float a, const float* __restrict__ x, float (&y)[D]) {
#pragma unroll
  for (int d = 0; d < D; d += 4) {
    float4 v = *reinterpret_cast<const float4*>(x + d);
    y[d] = fmaf(a, v.x, y[d]);
    y[d + 1] = fmaf(a, v.y, y[d + 1]);
    y[d + 2] = fmaf(a, v.z, y[d + 2]);
    y[d + 3] = fmaf(a, v.w, y[d + 3]);
  }
}

// Chunk range of block (b, c) in mesh b; empty when c·chunk is past the mesh's end.
__device__ inline void chunk_range(const std::int64_t* offsets, int b, int c, int chunk,
                                   std::int64_t& begin, std::int64_t& end) {
  std::int64_t lo = offsets[b], hi = offsets[b + 1];
  begin = lo + std::int64_t(c) * chunk;
  end = begin + chunk < hi ? begin + chunk : hi;
}

// ---------------------------------------------------------------------------------------------
// Encode forward: per (b, h, chunk, latent tile) partial online softmax.
template <typename T, int D>
__global__ void __launch_bounds__(kLatentThreads)
    flare_encode_partial_kernel(const float* __restrict__ Q,  // [H, M, D]
                                const T* __restrict__ K,      // [ΣN, C]
                                const T* __restrict__ V,      // [ΣN, C]
                                const std::int64_t* __restrict__ offsets, int H, int M, int MT,
                                int m_tiles, int chunk, int n_chunks, float q_scale,
                                float* __restrict__ part_ml,   // [B, H, chunks, M, 2]
                                float* __restrict__ part_acc)  // [B, H, chunks, M, D]
{
  extern __shared__ float4 smem4[];
  float* ks = reinterpret_cast<float*>(smem4);  // [TILE_P, D]
  float* vs = ks + TILE_P * D;                  // [TILE_P, D]
  float* red = vs + TILE_P * D;                 // [G, MT, D + 2]
  const int h = blockIdx.y, b = blockIdx.z;
  const int c = blockIdx.x / m_tiles, mt = blockIdx.x % m_tiles;
  const int G = blockDim.x / MT, ml = threadIdx.x % MT, g = threadIdx.x / MT;
  const int m = mt * MT + ml;
  const int C = H * D;
  const bool valid = m < M;

  std::int64_t begin, end;
  chunk_range(offsets, b, c, chunk, begin, end);

  float q[D], acc[D];
#pragma unroll
  for (int d = 0; d < D; ++d) {
    q[d] = valid ? Q[(std::int64_t(h) * M + m) * D + d] * q_scale : 0.f;
    acc[d] = 0.f;
  }
  float mx = -INFINITY, l = 0.f;

  for (std::int64_t t0 = begin; t0 < end; t0 += TILE_P) {
    const int np = int(end - t0 < TILE_P ? end - t0 : TILE_P);
    __syncthreads();
    load_tile<T, D>(K, t0, np, C, h, ks);
    load_tile<T, D>(V, t0, np, C, h, vs);
    __syncthreads();
    for (int p = g; p < np; p += G) {
      float s = dot_smem<D>(q, ks + p * D);
      if (s > mx) {
        float corr = exp2f(mx - s);
        l *= corr;
#pragma unroll
        for (int d = 0; d < D; ++d) acc[d] *= corr;
        mx = s;
      }
      float pr = exp2f(s - mx);
      l += pr;
      axpy_smem<D>(pr, vs + p * D, acc);
    }
  }

  // Merge the G groups of this block.
  float* mine = red + (g * MT + ml) * (D + 2);
  mine[0] = mx;
  mine[1] = l;
#pragma unroll
  for (int d = 0; d < D; ++d) mine[2 + d] = acc[d];
  __syncthreads();
  if (g != 0 || !valid) return;
  float gmx = -INFINITY;
  for (int j = 0; j < G; ++j) gmx = fmaxf(gmx, red[(j * MT + ml) * (D + 2)]);
  float gl = 0.f;
#pragma unroll
  for (int d = 0; d < D; ++d) acc[d] = 0.f;
  if (gmx != -INFINITY) {
    for (int j = 0; j < G; ++j) {
      const float* o = red + (j * MT + ml) * (D + 2);
      float w = exp2f(o[0] - gmx);
      gl += o[1] * w;
#pragma unroll
      for (int d = 0; d < D; ++d) acc[d] += o[2 + d] * w;
    }
  }
  const std::int64_t pi = ((std::int64_t(b) * H + h) * n_chunks + c) * M + m;
  part_ml[pi * 2] = gmx;
  part_ml[pi * 2 + 1] = gl;
#pragma unroll
  for (int d = 0; d < D; ++d) part_acc[pi * D + d] = acc[d];
}

// The chunk merges below give each output element a column of kSlices threads that take every
// kSlices-th chunk and then combine their sums in shared memory, in a fixed order (so the result
// does not vary between runs). One thread per output would leave a 15k-point mesh's 4,096 outputs
// on 16 blocks, each thread walking all chunks alone (33 µs a merge, ncu, H100).
constexpr int kMergeOut = 32, kSlices = 8;  // a block: 32 outputs × 8 chunk slices

// Σ over the block's slices of v (this thread's slice sum for output column threadIdx.x % 32),
// valid in slice 0; op is the combining function.
template <typename Op>
__device__ inline float merge_slices(float v, float (&red)[kSlices][kMergeOut], Op op) {
  const int o = threadIdx.x % kMergeOut, sl = threadIdx.x / kMergeOut;
  __syncthreads();  // red is free (a previous merge has been read)
  red[sl][o] = v;
  __syncthreads();
  float r = red[0][o];
  for (int k = 1; k < kSlices; ++k) r = op(r, red[k][o]);
  return r;
}

// Exact merge of the encode's chunk partials: the running maximum, then the rescaled sums.
__global__ void __launch_bounds__(kMergeOut* kSlices)
    flare_encode_combine_kernel(const float* __restrict__ part_ml,   // [B,H,chunks,M,2]
                                const float* __restrict__ part_acc,  // [B,H,chunks,M,D]
                                int B, int H, int M, int D, int n_chunks,
                                float* __restrict__ Z,    // [B, H, M, D]
                                float* __restrict__ lse)  // [B, H, M]
{
  __shared__ float red[kSlices][kMergeOut];
  const int sl = threadIdx.x / kMergeOut;
  const std::int64_t i = std::int64_t(blockIdx.x) * kMergeOut + threadIdx.x % kMergeOut;
  const bool valid = i < std::int64_t(B) * H * M * D;
  const int d = int(i % D);
  const std::int64_t bhm = i / D;
  const std::int64_t base = (bhm / M) * n_chunks * M + bhm % M;  // partial index of chunk 0
  float mx = -INFINITY;
  if (valid)
    for (int c = sl; c < n_chunks; c += kSlices)
      mx = fmaxf(mx, part_ml[(base + std::int64_t(c) * M) * 2]);
  mx = merge_slices(mx, red, [](float u, float v) { return fmaxf(u, v); });
  float l = 0.f, z = 0.f;
  if (valid && mx != -INFINITY)
    for (int c = sl; c < n_chunks; c += kSlices) {
      const std::int64_t pi = base + std::int64_t(c) * M;
      const float w = exp2f(part_ml[pi * 2] - mx);
      l += part_ml[pi * 2 + 1] * w;
      z += part_acc[pi * D + d] * w;
    }
  const auto add = [](float u, float v) { return u + v; };
  l = merge_slices(l, red, add);
  z = merge_slices(z, red, add);
  if (sl != 0 || !valid) return;
  if (mx == -INFINITY) {  // empty mesh: every chunk is empty
    Z[i] = 0.f;
    if (d == 0) lse[bhm] = -INFINITY;
    return;
  }
  Z[i] = z / l;
  if (d == 0) lse[bhm] = (mx + log2f(l)) * kLn2;
}

unsigned merge_grid(std::int64_t outputs) {
  return unsigned((outputs + kMergeOut - 1) / kMergeOut);
}

// ---------------------------------------------------------------------------------------------
// The point kernels' start (head h = blockIdx.y, mesh b = blockIdx.z, a point per thread): Q[h]
// times q_scale and Z[b,h] into shared memory (qs, zs: [M, D]), then extra(zoff) for a kernel's
// own staging (zoff: Z[b,h]'s offset), then one barrier. Returns this thread's point, or -1 when
// the block's tile starts past the mesh (the whole block leaves before the barrier) or the
// thread's point does.
template <typename Extra>
__device__ inline std::int64_t stage_head(const float* __restrict__ Q, const float* __restrict__ Z,
                                          const std::int64_t* __restrict__ offsets, int H, int M,
                                          int D, float q_scale, float* qs, float* zs,
                                          Extra&& extra) {
  const int h = blockIdx.y, b = blockIdx.z;
  const std::int64_t lo = offsets[b], hi = offsets[b + 1];
  const std::int64_t first = lo + std::int64_t(blockIdx.x) * blockDim.x;
  if (first >= hi) return -1;
  const std::int64_t zoff = (std::int64_t(b) * H + h) * M * D;
  for (int i = threadIdx.x; i < M * D; i += blockDim.x) {
    qs[i] = Q[std::int64_t(h) * M * D + i] * q_scale;
    zs[i] = Z[zoff + i];
  }
  extra(zoff);
  __syncthreads();
  const std::int64_t n = first + threadIdx.x;
  return n < hi ? n : -1;
}
__device__ inline void no_extra_staging(std::int64_t) {}

// ---------------------------------------------------------------------------------------------
// Decode forward: one thread per point, Q[h] (pre-scaled) and Z[b,h] in shared memory.
template <typename T, int D>
__global__ void __launch_bounds__(kPointThreads)
    flare_decode_fwd_kernel(const float* __restrict__ Q,  // [H, M, D]
                            const T* __restrict__ K,      // [ΣN, C]
                            const float* __restrict__ Z,  // [B, H, M, D]
                            const std::int64_t* __restrict__ offsets, int H, int M, float q_scale,
                            T* __restrict__ Y,        // [ΣN, C]
                            float* __restrict__ lse)  // [ΣN, H]
{
  extern __shared__ float4 smem4[];
  float* qs = reinterpret_cast<float*>(smem4);  // [M, D]
  float* zs = qs + M * D;                       // [M, D]
  const std::int64_t n = stage_head(Q, Z, offsets, H, M, D, q_scale, qs, zs, no_extra_staging);
  if (n < 0) return;
  const int h = blockIdx.y, C = H * D;
  float k[D], y[D];
  load_row<T, D>(K + n * C + h * D, k);
#pragma unroll
  for (int d = 0; d < D; ++d) y[d] = 0.f;
  float mx = -INFINITY, l = 0.f;
  for (int m = 0; m < M; ++m) {
    float s = dot_smem<D>(k, qs + m * D);
    if (s > mx) {
      float corr = exp2f(mx - s);
      l *= corr;
#pragma unroll
      for (int d = 0; d < D; ++d) y[d] *= corr;
      mx = s;
    }
    float pr = exp2f(s - mx);
    l += pr;
    axpy_smem<D>(pr, zs + m * D, y);
  }
  const float inv = 1.f / l;
#pragma unroll
  for (int d = 0; d < D; ++d) y[d] *= inv;
  store_row<T, D>(Y + n * C + h * D, y);
  lse[n * H + h] = (mx + log2f(l)) * kLn2;
}

// ---------------------------------------------------------------------------------------------
// Decode backward's per-point delta_n = Σ_m P[n,m]·(dY_n·Z_m) (= dY_n·Y_n in exact arithmetic),
// recomputed in fp32 from the scores instead of read off the saved Y: with bf16 Y the product
// dY·Y carries Y's rounding (2^-9 relative) into every dS, which the naive bf16 implementation
// (softmax backward from P) does not; at M = 1 the exact gradient is 0 and dY·Y would not give it.
template <typename T, int D>
__global__ void __launch_bounds__(kPointThreads)
    flare_decode_delta_kernel(const float* __restrict__ Q,    // [H, M, D]
                              const T* __restrict__ K,        // [ΣN, C]
                              const float* __restrict__ Z,    // [B, H, M, D]
                              const float* __restrict__ lse,  // [ΣN, H]
                              const T* __restrict__ dY,       // [ΣN, C]
                              const std::int64_t* __restrict__ offsets, int H, int M,
                              float q_scale, float* __restrict__ delta)  // [ΣN, H]
{
  extern __shared__ float4 smem4[];
  float* qs = reinterpret_cast<float*>(smem4);  // [M, D]
  float* zs = qs + M * D;                       // [M, D]
  const std::int64_t n = stage_head(Q, Z, offsets, H, M, D, q_scale, qs, zs, no_extra_staging);
  if (n < 0) return;
  const int h = blockIdx.y, C = H * D;
  float k[D], dy[D];
  load_row<T, D>(K + n * C + h * D, k);
  load_row<T, D>(dY + n * C + h * D, dy);
  const float lse2 = lse[n * H + h] * kLog2e;
  float acc = 0.f;
  for (int m = 0; m < M; ++m)
    acc = fmaf(exp2f(dot_smem<D>(k, qs + m * D) - lse2), dot_smem<D>(dy, zs + m * D), acc);
  delta[n * H + h] = acc;
}

// ---------------------------------------------------------------------------------------------
// Point-side backward: dK from decode (do_dec) and/or encode (do_enc), and dV (encode).
//   decode: p = exp(s − lse_n),  g_dec = p·(dY_n·Z_m − dY_n·Y_n)
//   encode: pe = exp(s − lse_m), g_enc = pe·(dZ_m·V_n − dZ_m·Z_m);  dV_n += pe·dZ_m
//   dK_n += s·(g_dec + g_enc)·Q_m
template <typename T, int D>
__global__ void __launch_bounds__(kPointThreads)
    flare_point_bwd_kernel(const float* __restrict__ Q,        // [H, M, D]
                           const T* __restrict__ K,            // [ΣN, C]
                           const T* __restrict__ V,            // [ΣN, C]     (do_enc)
                           const float* __restrict__ Z,        // [B, H, M, D]
                           const float* __restrict__ lse_enc,  // [B, H, M]   (do_enc)
                           const float* __restrict__ dZ,       // [B, H, M, D] (do_enc)
                           const float* __restrict__ delta_dec,  // [ΣN, H]   (do_dec)
                           const float* __restrict__ lse_dec,  // [ΣN, H]     (do_dec)
                           const T* __restrict__ dY,           // [ΣN, C]     (do_dec)
                           const std::int64_t* __restrict__ offsets, int H, int M, float q_scale,
                           bool do_dec, bool do_enc,
                           T* __restrict__ dK,  // [ΣN, C] +=  (nullable)
                           T* __restrict__ dV)  // [ΣN, C] +=  (nullable)
{
  extern __shared__ float4 smem4[];
  float* qs = reinterpret_cast<float*>(smem4);  // [M, D] pre-scaled by s·log2 e
  float* zs = qs + M * D;                       // [M, D]
  float* dzs = zs + M * D;                      // [M, D]         (do_enc)
  float* lse2 = dzs + (do_enc ? M * D : 0);     // [M] log2 units (do_enc)
  float* delta = lse2 + (do_enc ? M : 0);       // [M] dZ_m·Z_m   (do_enc)
  const std::int64_t n = stage_head(Q, Z, offsets, H, M, D, q_scale, qs, zs, [&](std::int64_t zoff) {
    if (!do_enc) return;
    for (int i = threadIdx.x; i < M * D; i += blockDim.x) dzs[i] = dZ[zoff + i];
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
      lse2[m] = lse_enc[zoff / D + m] * kLog2e;  // lse_enc [B, H, M]: (b·H + h)·M + m
      float s = 0.f;
      for (int d = 0; d < D; ++d) s += dZ[zoff + m * D + d] * Z[zoff + m * D + d];
      delta[m] = s;
    }
  });
  if (n < 0) return;
  const int h = blockIdx.y, C = H * D;
  const std::int64_t row = n * C + h * D;
  float k[D], dy[D], v[D], dk[D], dv[D];
  load_row<T, D>(K + row, k);
  float lse_n = 0.f, delta_n = 0.f;
  if (do_dec) {
    load_row<T, D>(dY + row, dy);
    delta_n = delta_dec[n * H + h];
    lse_n = lse_dec[n * H + h] * kLog2e;
  }
  if (do_enc) load_row<T, D>(V + row, v);
#pragma unroll
  for (int d = 0; d < D; ++d) dk[d] = dv[d] = 0.f;
  for (int m = 0; m < M; ++m) {
    const float s = dot_smem<D>(k, qs + m * D);
    float gsum = 0.f;
    if (do_dec) {
      float pr = exp2f(s - lse_n);
      gsum = pr * (dot_smem<D>(dy, zs + m * D) - delta_n);
    }
    if (do_enc) {
      float pe = exp2f(s - lse2[m]);
      float dpe = dot_smem<D>(v, dzs + m * D);
      gsum = fmaf(pe, dpe - delta[m], gsum);
      axpy_smem<D>(pe, dzs + m * D, dv);
    }
    axpy_smem<D>(gsum, qs + m * D, dk);
  }
  // qs carries s·log2 e: s·q = qs·ln 2.
  if (dK) {
    float old[D];
    load_row<T, D>(dK + row, old);
#pragma unroll
    for (int d = 0; d < D; ++d) old[d] = fmaf(dk[d], kLn2, old[d]);
    store_row<T, D>(dK + row, old);
  }
  if (dV && do_enc) {
    float old[D];
    load_row<T, D>(dV + row, old);
#pragma unroll
    for (int d = 0; d < D; ++d) old[d] += dv[d];
    store_row<T, D>(dV + row, old);
  }
}

// ---------------------------------------------------------------------------------------------
// Decode backward, latent side: per chunk, dQ_m = s·Σ_n dS[n,m]·k_n and dZ_m = Σ_n p[n,m]·dY_n.
template <typename T, int D>
__global__ void __launch_bounds__(kLatentThreads)
    flare_decode_bwd_latent_kernel(const float* __restrict__ Q,    // [H, M, D]
                                   const T* __restrict__ K,        // [ΣN, C]
                                   const float* __restrict__ Z,    // [B, H, M, D]
                                   const float* __restrict__ delta_dec,  // [ΣN, H]
                                   const float* __restrict__ lse,  // [ΣN, H]
                                   const T* __restrict__ dY,       // [ΣN, C]
                                   const std::int64_t* __restrict__ offsets, int H, int M, int MT,
                                   int m_tiles, int chunk, int n_chunks, float q_scale,
                                   float* __restrict__ part_dq,  // [B, H, chunks, M, D]
                                   float* __restrict__ part_dz)  // [B, H, chunks, M, D]
{
  extern __shared__ float4 smem4[];
  float* ks = reinterpret_cast<float*>(smem4);  // [TILE_P, D]
  float* dys = ks + TILE_P * D;                 // [TILE_P, D]
  float* lse2 = dys + TILE_P * D;               // [TILE_P]
  float* delta = lse2 + TILE_P;                 // [TILE_P]
  float* red = delta + TILE_P;                  // [G, MT, 2D]
  const int h = blockIdx.y, b = blockIdx.z;
  const int c = blockIdx.x / m_tiles, mt = blockIdx.x % m_tiles;
  const int G = blockDim.x / MT, ml = threadIdx.x % MT, g = threadIdx.x / MT;
  const int m = mt * MT + ml;
  const int C = H * D;
  const bool valid = m < M;
  std::int64_t begin, end;
  chunk_range(offsets, b, c, chunk, begin, end);

  const float dq_scale = q_scale * kLn2;
  float q[D], z[D], dq[D], dz[D];
  const std::int64_t zrow = ((std::int64_t(b) * H + h) * M + m) * D;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    q[d] = valid ? Q[(std::int64_t(h) * M + m) * D + d] * q_scale : 0.f;
    z[d] = valid ? Z[zrow + d] : 0.f;
    dq[d] = dz[d] = 0.f;
  }
  for (std::int64_t t0 = begin; t0 < end; t0 += TILE_P) {
    const int np = int(end - t0 < TILE_P ? end - t0 : TILE_P);
    __syncthreads();
    load_tile<T, D>(K, t0, np, C, h, ks);
    load_tile<T, D>(dY, t0, np, C, h, dys);
    __syncthreads();
    for (int p = threadIdx.x; p < TILE_P; p += blockDim.x) {
      delta[p] = p < np ? delta_dec[(t0 + p) * H + h] : 0.f;
      lse2[p] = p < np ? lse[(t0 + p) * H + h] * kLog2e : INFINITY;
    }
    __syncthreads();
    for (int p = g; p < np; p += G) {
      float s = dot_smem<D>(q, ks + p * D);
      float pr = exp2f(s - lse2[p]);
      float dp = dot_smem<D>(z, dys + p * D);
      float ds = pr * (dp - delta[p]);
      axpy_smem<D>(ds, ks + p * D, dq);
      axpy_smem<D>(pr, dys + p * D, dz);
    }
  }
  float* mine = red + (g * MT + ml) * 2 * D;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    mine[d] = dq[d];
    mine[D + d] = dz[d];
  }
  __syncthreads();
  if (g != 0 || !valid) return;
  for (int j = 1; j < G; ++j) {
    const float* o = red + (j * MT + ml) * 2 * D;
#pragma unroll
    for (int d = 0; d < D; ++d) {
      dq[d] += o[d];
      dz[d] += o[D + d];
    }
  }
  const std::int64_t pi = (((std::int64_t(b) * H + h) * n_chunks + c) * M + m) * D;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    part_dq[pi + d] = dq[d] * dq_scale;  // dQ = s·Σ dS·k (q_scale = s·log2 e)
    part_dz[pi + d] = dz[d];
  }
}

// Encode backward, latent side: per chunk, dQ_m = s·Σ_n pe[m,n]·(dZ_m·V_n − dZ_m·Z_m)·k_n.
template <typename T, int D>
__global__ void __launch_bounds__(kLatentThreads)
    flare_encode_bwd_latent_kernel(const float* __restrict__ Q,    // [H, M, D]
                                   const T* __restrict__ K,        // [ΣN, C]
                                   const T* __restrict__ V,        // [ΣN, C]
                                   const float* __restrict__ Z,    // [B, H, M, D]
                                   const float* __restrict__ lse,  // [B, H, M]
                                   const float* __restrict__ dZ,   // [B, H, M, D]
                                   const std::int64_t* __restrict__ offsets, int H, int M, int MT,
                                   int m_tiles, int chunk, int n_chunks, float q_scale,
                                   float* __restrict__ part_dq)  // [B, H, chunks, M, D]
{
  extern __shared__ float4 smem4[];
  float* ks = reinterpret_cast<float*>(smem4);  // [TILE_P, D]
  float* vs = ks + TILE_P * D;                  // [TILE_P, D]
  float* red = vs + TILE_P * D;                 // [G, MT, D]
  const int h = blockIdx.y, b = blockIdx.z;
  const int c = blockIdx.x / m_tiles, mt = blockIdx.x % m_tiles;
  const int G = blockDim.x / MT, ml = threadIdx.x % MT, g = threadIdx.x / MT;
  const int m = mt * MT + ml;
  const int C = H * D;
  const bool valid = m < M;
  std::int64_t begin, end;
  chunk_range(offsets, b, c, chunk, begin, end);

  const float dq_scale = q_scale * kLn2;
  float q[D], dz[D], dq[D];
  const std::int64_t zrow = ((std::int64_t(b) * H + h) * M + m) * D;
  float delta = 0.f;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    q[d] = valid ? Q[(std::int64_t(h) * M + m) * D + d] * q_scale : 0.f;
    dz[d] = valid ? dZ[zrow + d] : 0.f;
    delta = valid ? fmaf(dz[d], Z[zrow + d], delta) : 0.f;
    dq[d] = 0.f;
  }
  const float lse2 = valid ? lse[(std::int64_t(b) * H + h) * M + m] * kLog2e : INFINITY;
  for (std::int64_t t0 = begin; t0 < end; t0 += TILE_P) {
    const int np = int(end - t0 < TILE_P ? end - t0 : TILE_P);
    __syncthreads();
    load_tile<T, D>(K, t0, np, C, h, ks);
    load_tile<T, D>(V, t0, np, C, h, vs);
    __syncthreads();
    for (int p = g; p < np; p += G) {
      float s = dot_smem<D>(q, ks + p * D);
      float pe = exp2f(s - lse2);
      float dpe = dot_smem<D>(dz, vs + p * D);
      axpy_smem<D>(pe * (dpe - delta), ks + p * D, dq);
    }
  }
  float* mine = red + (g * MT + ml) * D;
#pragma unroll
  for (int d = 0; d < D; ++d) mine[d] = dq[d];
  __syncthreads();
  if (g != 0 || !valid) return;
  for (int j = 1; j < G; ++j) {
#pragma unroll
    for (int d = 0; d < D; ++d) dq[d] += red[(j * MT + ml) * D + d];
  }
  const std::int64_t pi = (((std::int64_t(b) * H + h) * n_chunks + c) * M + m) * D;
#pragma unroll
  for (int d = 0; d < D; ++d) part_dq[pi + d] = dq[d] * dq_scale;  // dQ = s·Σ dS·k
}

// out += Σ over chunks (and over meshes when sum_meshes) of part [B, H, chunks, MD].
// out is [H, MD] when sum_meshes (dQ), else [B, H, MD] (dZ). A column of kSlices threads per output
// element (merge_slices).
__global__ void __launch_bounds__(kMergeOut* kSlices)
    sum_partials_kernel(const float* __restrict__ part, int B, int H, int n_chunks, int MD,
                        bool sum_meshes, float* __restrict__ out) {
  __shared__ float red[kSlices][kMergeOut];
  const int sl = threadIdx.x / kMergeOut;
  const std::int64_t i = std::int64_t(blockIdx.x) * kMergeOut + threadIdx.x % kMergeOut;
  const bool valid = i < std::int64_t(sum_meshes ? 1 : B) * H * MD;
  const int md = int(i % MD);
  const std::int64_t bh = i / MD;
  const int b_lo = sum_meshes ? 0 : int(bh / H), n_b = sum_meshes ? B : 1;
  const int h = int(bh % H);
  float s = 0.f;
  if (valid)
    for (int k = sl; k < n_b * n_chunks; k += kSlices) {
      const int b = b_lo + k / n_chunks, c = k % n_chunks;
      s += part[((std::int64_t(b) * H + h) * n_chunks + c) * MD + md];
    }
  s = merge_slices(s, red, [](float u, float v) { return u + v; });
  if (sl == 0 && valid) out[i] += s;
}

// ---------------------------------------------------------------------------------------------
// Launch planning: the one place where block sizes, grids and shared memory are chosen.

struct LatentPlan {
  int MT, G, m_tiles, chunk, n_chunks;
};

LatentPlan plan_latent(const CudaContext& ctx, const PackedBatch& batch, const MixerShape& s) {
  LatentPlan p{};
  int mt = 32;
  while (mt < s.M && mt < kLatentThreads) mt *= 2;
  p.MT = mt;
  p.G = kLatentThreads / mt;
  p.m_tiles = (s.M + mt - 1) / mt;
  const std::int64_t target_blocks = 4LL * ctx.sm_count();
  const std::int64_t per_chunk = std::int64_t(batch.B) * s.H * p.m_tiles;
  std::int64_t chunks = std::max<std::int64_t>(1, (target_blocks + per_chunk - 1) / per_chunk);
  const std::int64_t max_chunks = std::max<std::int64_t>(1, (batch.max_points + 255) / 256);
  chunks = std::min(chunks, max_chunks);
  std::int64_t chunk = (batch.max_points + chunks - 1) / chunks;
  chunk = std::max<std::int64_t>(TILE_P, (chunk + TILE_P - 1) / TILE_P * TILE_P);
  p.chunk = int(chunk);
  p.n_chunks = int(std::max<std::int64_t>(1, (batch.max_points + chunk - 1) / chunk));
  return p;
}

void check_args(const PackedBatch& batch, const MixerShape& s) {
  FLARE_CHECK(batch.B >= 1 && batch.offsets, "mixer needs a batch of at least one mesh");
  FLARE_CHECK(s.H >= 1 && s.M >= 1, "mixer needs H >= 1 and M >= 1, got H=", s.H, " M=", s.M);
  FLARE_CHECK(s.D == 8 || s.D == 16 || s.D == 32 || s.D == 64,
              "the CUDA mixer supports head dims 8, 16, 32, 64; got D=", s.D,
              " (choose channels = heads x one of those)");
  FLARE_CHECK(batch.max_points < (std::int64_t(1) << 31) * 32, "mesh too large");
}

template <typename F>
void set_smem(F kernel, std::size_t bytes) {
  FLARE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        int(bytes)));
}

dim3 point_grid(const PackedBatch& batch, int H) {
  return dim3(unsigned((batch.max_points + kPointThreads - 1) / kPointThreads), unsigned(H),
              unsigned(batch.B));
}

template <typename T>
void launch_point_bwd(CudaContext& ctx, const float* Q, const T* K, const T* V, const float* Z,
                      const float* lse_enc, const float* dZ, const float* delta_dec, const float* lse_dec,
                      const T* dY, const PackedBatch& batch, const MixerShape& s, bool do_dec,
                      bool do_enc, T* dK, T* dV) {
  if (batch.max_points == 0 || (!dK && !(dV && do_enc))) return;
  const std::size_t smem =
      (std::size_t(do_enc ? 3 : 2) * s.M * s.D + (do_enc ? 2 * s.M : 0)) * sizeof(float);
  const float q_scale = s.scale * kLog2e;
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_point_bwd_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<point_grid(batch, s.H), kPointThreads, smem, ctx.stream()>>>(
        Q, K, V, Z, lse_enc, dZ, delta_dec, lse_dec, dY, batch.offsets, s.H, s.M, q_scale, do_dec, do_enc,
        dK, dV);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

void launch_sum_partials(CudaContext& ctx, const float* part, const PackedBatch& batch,
                         const MixerShape& s, int n_chunks, bool sum_meshes, float* out) {
  const std::int64_t total = std::int64_t(sum_meshes ? 1 : batch.B) * s.H * s.M * s.D;
  sum_partials_kernel<<<merge_grid(total), kMergeOut * kSlices, 0, ctx.stream()>>>(
      part, batch.B, s.H, n_chunks, s.M * s.D, sum_meshes, out);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

// Decode latent pass: dQ += and dZ += (either may be null).
template <typename T>
void launch_decode_bwd_latent(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                              const float* delta, const float* lse, const T* dY,
                              const PackedBatch& batch, const MixerShape& s, float* part,
                              float* dQ, float* dZ) {
  if (!dQ && !dZ) return;
  const LatentPlan p = plan_latent(ctx, batch, s);
  const std::size_t part_elems = std::size_t(batch.B) * s.H * p.n_chunks * s.M * s.D;
  const std::size_t smem =
      (2 * TILE_P * s.D + 2 * TILE_P + std::size_t(kLatentThreads) * 2 * s.D) * sizeof(float);
  dim3 grid(unsigned(p.n_chunks * p.m_tiles), unsigned(s.H), unsigned(batch.B));
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_decode_bwd_latent_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<grid, kLatentThreads, smem, ctx.stream()>>>(Q, K, Z, delta, lse, dY, batch.offsets, s.H,
                                                        s.M, p.MT, p.m_tiles, p.chunk, p.n_chunks,
                                                        s.scale * kLog2e, part, part + part_elems);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  if (dQ) launch_sum_partials(ctx, part, batch, s, p.n_chunks, true, dQ);
  if (dZ) launch_sum_partials(ctx, part + part_elems, batch, s, p.n_chunks, false, dZ);
}

template <typename T>
void launch_encode_bwd_latent(CudaContext& ctx, const float* Q, const T* K, const T* V,
                              const float* Z, const float* lse, const float* dZ,
                              const PackedBatch& batch, const MixerShape& s, float* dQ) {
  if (!dQ) return;
  const LatentPlan p = plan_latent(ctx, batch, s);
  const std::size_t part_elems = std::size_t(batch.B) * s.H * p.n_chunks * s.M * s.D;
  float* part = static_cast<float*>(ctx.scratch(part_elems * sizeof(float)));
  const std::size_t smem =
      (2 * TILE_P * s.D + std::size_t(kLatentThreads) * s.D) * sizeof(float);
  dim3 grid(unsigned(p.n_chunks * p.m_tiles), unsigned(s.H), unsigned(batch.B));
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_encode_bwd_latent_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<grid, kLatentThreads, smem, ctx.stream()>>>(Q, K, V, Z, lse, dZ, batch.offsets, s.H,
                                                        s.M, p.MT, p.m_tiles, p.chunk, p.n_chunks,
                                                        s.scale * kLog2e, part);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  launch_sum_partials(ctx, part, batch, s, p.n_chunks, true, dQ);
}

// Decode backward's scratch: delta [ΣN, H] then the latent partials (dQ and dZ, 2 x elems).
struct DecodeScratch {
  float* delta;
  float* part;
};
DecodeScratch decode_scratch(CudaContext& ctx, const PackedBatch& batch, const MixerShape& s) {
  const LatentPlan p = plan_latent(ctx, batch, s);
  const std::size_t delta_elems = (std::size_t(batch.total_points) * s.H + 63) / 64 * 64;
  const std::size_t part_elems = std::size_t(batch.B) * s.H * p.n_chunks * s.M * s.D;
  float* base = static_cast<float*>(ctx.scratch((delta_elems + 2 * part_elems) * sizeof(float)));
  return {base, base + delta_elems};
}

template <typename T>
void launch_decode_delta(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                         const float* lse, const T* dY, const PackedBatch& batch,
                         const MixerShape& s, float* delta) {
  const std::size_t smem = std::size_t(2) * s.M * s.D * sizeof(float);
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_decode_delta_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<point_grid(batch, s.H), kPointThreads, smem, ctx.stream()>>>(
        Q, K, Z, lse, dY, batch.offsets, s.H, s.M, s.scale * kLog2e, delta);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

// Version 2 backward (bf16 on tensor cores): scratch = delta [ΣN, H] then the latent partials
// (2 x [B, H, chunks, M, D]), chunked like the tensor-core encode.
struct TcBwdScratch {
  float* delta;
  float* part;
  std::size_t part_elems;
  int chunk, n_chunks;
};
TcBwdScratch tc_bwd_scratch(CudaContext& ctx, const PackedBatch& batch, const MixerShape& s) {
  TcBwdScratch w{};
  tc::encode_plan(ctx, batch, s, w.chunk, w.n_chunks);
  const std::size_t delta_elems = (std::size_t(batch.total_points) * s.H + 63) / 64 * 64;
  w.part_elems = std::size_t(batch.B) * s.H * w.n_chunks * s.M * s.D;
  w.delta = static_cast<float*>(ctx.scratch((delta_elems + 2 * w.part_elems) * sizeof(float)));
  w.part = w.delta + delta_elems;
  return w;
}

bool use_tc_bwd(const CudaContext& ctx, const MixerShape& s) {
  return s.tensor_cores && s.tensor_core_bwd && tc::bwd_supported(ctx, s);
}

// Decode backward on tensor cores, latent half: delta (kept in w.delta for the point pass; for
// M <= 64 computed by the latent kernel itself), then dQ += and dZ += (either may be null).
void tc_decode_bwd_latent(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
                          const float* lse, const bf16* dY, const PackedBatch& batch,
                          const MixerShape& s, const TcBwdScratch& w, float* dQ, float* dZ) {
  const bool fused_delta = tc::bwd_latent_computes_delta(s);
  if (!fused_delta) tc::bwd_delta(ctx, Q, K, Z, lse, dY, batch, s, w.delta);
  if (fused_delta || dQ || dZ) {
    tc::bwd_latent_dec(ctx, Q, K, Z, w.delta, lse, dY, batch, s, w.chunk, w.n_chunks, w.part,
                       w.part + w.part_elems);
    if (dQ) launch_sum_partials(ctx, w.part, batch, s, w.n_chunks, true, dQ);
    if (dZ) launch_sum_partials(ctx, w.part + w.part_elems, batch, s, w.n_chunks, false, dZ);
  }
}

void tc_encode_bwd_latent(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V,
                          const float* Z, const float* lse, const float* dZ,
                          const PackedBatch& batch, const MixerShape& s, const TcBwdScratch& w,
                          float* dQ) {
  if (!dQ) return;
  tc::bwd_latent_enc(ctx, Q, K, V, Z, lse, dZ, batch, s, w.chunk, w.n_chunks, w.part);
  launch_sum_partials(ctx, w.part, batch, s, w.n_chunks, true, dQ);
}

}  // namespace

template <typename T>
void flare_encode_fwd(CudaContext& ctx, const float* Q, const T* K, const T* V,
                      const PackedBatch& batch, const MixerShape& s, float* Z, float* lse) {
  NVTX_RANGE_FN();
  check_args(batch, s);
  if constexpr (std::is_same_v<T, bf16>) {
    if (s.tensor_cores && tc::supported(s)) {
      int chunk = 0, n_chunks = 0;
      tc::encode_plan(ctx, batch, s, chunk, n_chunks);
      const std::size_t rows = std::size_t(batch.B) * s.H * n_chunks * s.M;
      float* ml = static_cast<float*>(ctx.scratch(rows * (s.D + 2) * sizeof(float)));
      tc::encode_partials(ctx, Q, K, V, batch, s, chunk, n_chunks, ml, ml + rows * 2);
      const std::int64_t total = std::int64_t(batch.B) * s.H * s.M * s.D;
      flare_encode_combine_kernel<<<merge_grid(total), kMergeOut * kSlices, 0, ctx.stream()>>>(
          ml, ml + rows * 2, batch.B, s.H, s.M, s.D, n_chunks, Z, lse);
      FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
      return;
    }
  }
  const LatentPlan p = plan_latent(ctx, batch, s);
  const std::size_t part_rows = std::size_t(batch.B) * s.H * p.n_chunks * s.M;
  float* part_ml = static_cast<float*>(ctx.scratch(part_rows * (s.D + 2) * sizeof(float)));
  float* part_acc = part_ml + part_rows * 2;
  const std::size_t smem =
      (2 * TILE_P * s.D + std::size_t(kLatentThreads) * (s.D + 2)) * sizeof(float);
  dim3 grid(unsigned(p.n_chunks * p.m_tiles), unsigned(s.H), unsigned(batch.B));
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_encode_partial_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<grid, kLatentThreads, smem, ctx.stream()>>>(Q, K, V, batch.offsets, s.H, s.M, p.MT,
                                                        p.m_tiles, p.chunk, p.n_chunks,
                                                        s.scale * kLog2e, part_ml, part_acc);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  const std::int64_t total = std::int64_t(batch.B) * s.H * s.M * s.D;
  flare_encode_combine_kernel<<<merge_grid(total), kMergeOut * kSlices, 0, ctx.stream()>>>(
      part_ml, part_acc, batch.B, s.H, s.M, s.D, p.n_chunks, Z, lse);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
void flare_decode_fwd(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                      const PackedBatch& batch, const MixerShape& s, T* Y, float* lse) {
  NVTX_RANGE_FN();
  check_args(batch, s);
  if (batch.max_points == 0) return;
  if constexpr (std::is_same_v<T, bf16>) {
    if (s.tensor_cores && tc::supported(s)) return tc::decode_fwd(ctx, Q, K, Z, batch, s, Y, lse);
  }
  const std::size_t smem = std::size_t(2) * s.M * s.D * sizeof(float);
  FLARE_D_SWITCH(s.D, {
    auto kern = flare_decode_fwd_kernel<T, DD>;
    set_smem(kern, smem);
    kern<<<point_grid(batch, s.H), kPointThreads, smem, ctx.stream()>>>(
        Q, K, Z, batch.offsets, s.H, s.M, s.scale * kLog2e, Y, lse);
  });
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
void flare_decode_bwd(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                      const float* lse, const T* dY, const PackedBatch& batch,
                      const MixerShape& s, float* dQ, T* dK, float* dZ) {
  NVTX_RANGE_FN();
  check_args(batch, s);
  if (batch.max_points == 0) return;
  if constexpr (std::is_same_v<T, bf16>) {
    if (use_tc_bwd(ctx, s)) {
      const TcBwdScratch w = tc_bwd_scratch(ctx, batch, s);
      tc_decode_bwd_latent(ctx, Q, K, Z, lse, dY, batch, s, w, dQ, dZ);
      tc::bwd_point(ctx, Q, K, nullptr, Z, nullptr, nullptr, w.delta, lse, dY, batch, s, true,
                    false, dK, nullptr);
      return;
    }
  }
  const DecodeScratch w = decode_scratch(ctx, batch, s);
  launch_decode_delta<T>(ctx, Q, K, Z, lse, dY, batch, s, w.delta);
  launch_decode_bwd_latent<T>(ctx, Q, K, Z, w.delta, lse, dY, batch, s, w.part, dQ, dZ);
  launch_point_bwd<T>(ctx, Q, K, nullptr, Z, nullptr, nullptr, w.delta, lse, dY, batch, s, true,
                      false, dK, nullptr);
}

template <typename T>
void flare_encode_bwd(CudaContext& ctx, const float* Q, const T* K, const T* V, const float* Z,
                      const float* lse, const float* dZ, const PackedBatch& batch,
                      const MixerShape& s, float* dQ, T* dK, T* dV) {
  NVTX_RANGE_FN();
  check_args(batch, s);
  if constexpr (std::is_same_v<T, bf16>) {
    if (use_tc_bwd(ctx, s)) {
      if (batch.max_points == 0) return;
      tc::bwd_point(ctx, Q, K, V, Z, lse, dZ, nullptr, nullptr, nullptr, batch, s, false, true, dK,
                    dV);
      if (dQ) {
        const TcBwdScratch w = tc_bwd_scratch(ctx, batch, s);
        tc_encode_bwd_latent(ctx, Q, K, V, Z, lse, dZ, batch, s, w, dQ);
      }
      return;
    }
  }
  launch_point_bwd<T>(ctx, Q, K, V, Z, lse, dZ, nullptr, nullptr, nullptr, batch, s, false, true,
                      dK, dV);
  launch_encode_bwd_latent<T>(ctx, Q, K, V, Z, lse, dZ, batch, s, dQ);
}

template <typename T>
void flare_mixer_bwd(CudaContext& ctx, const float* Q, const T* K, const T* V, const float* Z,
                     const float* lse_enc, const float* lse_dec, const T* dY,
                     const PackedBatch& batch, const MixerShape& s, float* dQ, T* dK, T* dV,
                     float* dZ) {
  NVTX_RANGE_FN();
  check_args(batch, s);
  FLARE_CHECK(dZ, "flare_mixer_bwd needs a dZ work buffer [B, H, M, D]");
  FLARE_CUDA_CHECK(cudaMemsetAsync(dZ, 0, std::size_t(batch.B) * s.H * s.M * s.D * sizeof(float),
                                   ctx.stream()));
  if (batch.max_points == 0) return;
  if constexpr (std::is_same_v<T, bf16>) {
    if (use_tc_bwd(ctx, s)) {
      const TcBwdScratch w = tc_bwd_scratch(ctx, batch, s);
      tc_decode_bwd_latent(ctx, Q, K, Z, lse_dec, dY, batch, s, w, dQ, dZ);
      tc::bwd_point(ctx, Q, K, V, Z, lse_enc, dZ, w.delta, lse_dec, dY, batch, s, true, true, dK,
                    dV);
      tc_encode_bwd_latent(ctx, Q, K, V, Z, lse_enc, dZ, batch, s, w, dQ);
      return;
    }
  }
  const DecodeScratch w = decode_scratch(ctx, batch, s);
  launch_decode_delta<T>(ctx, Q, K, Z, lse_dec, dY, batch, s, w.delta);
  launch_decode_bwd_latent<T>(ctx, Q, K, Z, w.delta, lse_dec, dY, batch, s, w.part, dQ, dZ);
  launch_point_bwd<T>(ctx, Q, K, V, Z, lse_enc, dZ, w.delta, lse_dec, dY, batch, s, true, true,
                      dK, dV);
  launch_encode_bwd_latent<T>(ctx, Q, K, V, Z, lse_enc, dZ, batch, s, dQ);
}

bool mixer_uses_tensor_cores(const MixerShape& s, bool bf16_tensors) {
  return bf16_tensors && s.tensor_cores && tc::supported(s);
}

bool mixer_bwd_uses_tensor_cores(const CudaContext& ctx, const MixerShape& s,
                                 bool bf16_tensors) {
  return bf16_tensors && use_tc_bwd(ctx, s);
}

#define FLARE_INSTANTIATE_MIXER(T)                                                                \
  template void flare_encode_fwd<T>(CudaContext&, const float*, const T*, const T*,               \
                                    const PackedBatch&, const MixerShape&, float*, float*);       \
  template void flare_decode_fwd<T>(CudaContext&, const float*, const T*, const float*,           \
                                    const PackedBatch&, const MixerShape&, T*, float*);           \
  template void flare_decode_bwd<T>(CudaContext&, const float*, const T*, const float*,           \
                                    const float*, const T*, const PackedBatch&,                   \
                                    const MixerShape&, float*, T*, float*);                       \
  template void flare_encode_bwd<T>(CudaContext&, const float*, const T*, const T*, const float*, \
                                    const float*, const float*, const PackedBatch&,               \
                                    const MixerShape&, float*, T*, T*);                           \
  template void flare_mixer_bwd<T>(CudaContext&, const float*, const T*, const T*, const float*,  \
                                   const float*, const float*, const T*,                          \
                                   const PackedBatch&, const MixerShape&, float*, T*, T*, float*);
FLARE_INSTANTIATE_MIXER(float)
FLARE_INSTANTIATE_MIXER(bf16)

}  // namespace flare::cuda
