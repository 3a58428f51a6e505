// Internal to the tensor-core kernels (flare_mixer_tc.cu, flare_mixer_tc_bwd.cu, residual_mlp.cu,
// weight_grad.cu):
// warp-level mma.sync / ldmatrix wrappers and fragment helpers. Fragment layouts: PTX ISA, "Matrix Fragments
// for mma.m16n8k16" (lane = 4·g + t; A rows g and g+8, B column g, C rows g and g+8, columns 2t,
// 2t+1).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace flare::cuda::tc {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
/// bf16 padding per shared-memory row: rows of D + 8 (or 64 + 8) elements put the 8 rows that one
/// fragment load or ldmatrix touches on distinct banks.
constexpr int kPad = 8;

/// c += a·b, m16n8k16, bf16 inputs, fp32 accumulators.
__device__ inline void mma_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// D = 8: products 8 deep (m16n8k8: A is 2 registers, B one).
__device__ inline void mma_bf16_k8(float (&c)[4], std::uint32_t a0, std::uint32_t a1,
                                   std::uint32_t b0) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(b0));
}

/// B fragment (b0, b1) of a 16×8 block B[k][n] stored row-major in shared memory (rows k0..k0+15,
/// columns n0..n0+7; `p` = &B[k0][n0], `ld` elements per row, 16-byte aligned rows): ldmatrix with
/// .trans hands each lane B[k0+2t..2t+1][n0+g] (and +8), so [k][n] storage (e.g. Q as [M][D] for
/// a product over latents) needs no transposed copy.
__device__ inline void ldsm_x2_trans(std::uint32_t& b0, std::uint32_t& b1, const __nv_bfloat16* p,
                                     int ld) {
  const int lane = threadIdx.x % 32;
  const auto addr =
      static_cast<std::uint32_t>(__cvta_generic_to_shared(p + (lane % 16) * ld));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(b0), "=r"(b1)
               : "r"(addr));
}

/// B fragments of two adjacent 8-column tiles, 16 deep, from W stored [n][k] row-major in shared
/// memory (the nn.Linear layout: B = Wᵀ): `p` = &W[n0][k0], `ld` elements per row (16-byte
/// aligned rows). b[0], b[1] serve columns n0..n0+7 and b[2], b[3] columns n0+8..n0+15; one
/// instruction instead of four 32-bit loads.
__device__ inline void ldsm_x4(std::uint32_t (&b)[4], const __nv_bfloat16* p, int ld) {
  const int lane = threadIdx.x % 32, j = lane / 8;
  const auto addr = static_cast<std::uint32_t>(
      __cvta_generic_to_shared(p + ((j / 2) * 8 + lane % 8) * ld + (j % 2) * 8));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
               : "r"(addr));
}

/// B fragments of two adjacent 8-column tiles, 16 deep, from B itself stored [k][n] row-major in
/// shared memory (e.g. dh·W with W in nn.Linear layout [out][in]: B = W): `p` = &B[k0][n0], `ld`
/// elements per row (16-byte aligned rows); the same b[0..3] as ldsm_x4 gives for Bᵀ storage.
__device__ inline void ldsm_x4_trans(std::uint32_t (&b)[4], const __nv_bfloat16* p, int ld) {
  const int lane = threadIdx.x % 32, j = lane / 8;
  const auto addr = static_cast<std::uint32_t>(
      __cvta_generic_to_shared(p + ((j % 2) * 8 + lane % 8) * ld + (j / 2) * 8));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
               : "r"(addr));
}

/// The A fragment of a 16×16 block A[m][k] whose storage is Aᵀ: [k][m] row-major in shared memory
/// (e.g. a layer's output gradient [points][outputs] as the left factor of dW = aᵀ·x): `p` =
/// &S[k0][m0], `ld` elements per row (16-byte aligned rows). ldsm_x4_trans's load of the same
/// block, whose matrices 1 and 2 are a[2] and a[1] (it orders them k half first, a[] m half
/// first); the swap is a register renaming.
__device__ inline void ldsm_x4_trans_a(std::uint32_t (&a)[4], const __nv_bfloat16* p, int ld) {
  std::uint32_t r[4];
  ldsm_x4_trans(r, p, ld);
  a[0] = r[0], a[1] = r[2], a[2] = r[1], a[3] = r[3];
}

__device__ inline std::uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<std::uint32_t*>(&v);
}
__device__ inline std::uint32_t ld32(const __nv_bfloat16* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}
__device__ inline float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

/// The A fragment of a 16×16 block from the accumulators of its two 8-column halves (c0: columns
/// 0..7, c1: 8..15), rounded to bf16: how P and dS feed the next product without leaving registers.
__device__ inline void acc_to_a(const float (&c0)[4], const float (&c1)[4], std::uint32_t (&a)[4]) {
  a[0] = pack_bf16(c0[0], c0[1]);
  a[1] = pack_bf16(c0[2], c0[3]);
  a[2] = pack_bf16(c1[0], c1[1]);
  a[3] = pack_bf16(c1[2], c1[3]);
}

/// Splits two fp32 values into bf16 hi and lo terms (x ≈ hi + lo to ~16 bits): fp32 operands
/// (Q, dZ) enter products as two bf16 MMAs so recomputed scores match the forward's lse.
__device__ inline void split_bf16(float x0, float x1, std::uint32_t& hi, std::uint32_t& lo) {
  const float h0 = __bfloat162float(__float2bfloat16_rn(x0));
  const float h1 = __bfloat162float(__float2bfloat16_rn(x1));
  hi = pack_bf16(h0, h1);
  lo = pack_bf16(x0 - h0, x1 - h1);
}

}  // namespace flare::cuda::tc
