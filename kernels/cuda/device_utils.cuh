// Device-side helpers shared by the kernels: vectorised row loads/stores for fp32 and bf16 rows
// (16-byte accesses), warp reductions, the alignment test that picks vectorised paths, and the
// NVTX range macro. Included by .cu files only.
#pragma once

#include <cuda_bf16.h>
#include <nvtx3/nvToolsExt.h>

#include <cstdint>

namespace flare::cuda {

/// Whether p is a multiple of `bytes` (a power of two). nullptr counts as aligned: an absent
/// operand does not keep a kernel off its vectorised path.
inline bool aligned(const void* p, std::uintptr_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

/// RAII NVTX range so nsys timelines name every launcher (llm.c NVTX_RANGE_FN).
struct NvtxRange {
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
};
#define NVTX_RANGE_FN() ::flare::cuda::NvtxRange flare_nvtx_range_(__func__)

template <typename T>
struct Vec;
template <>
struct Vec<float> {
  static constexpr int N = 4;  // one float4
};
template <>
struct Vec<__nv_bfloat16> {
  static constexpr int N = 8;  // one uint4 of 8 bf16
};

template <typename T>
__device__ inline float to_float(T x);
template <>
__device__ inline float to_float<float>(float x) { return x; }
template <>
__device__ inline float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ inline T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) { return x; }
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

/// Loads Vec<T>::N consecutive values (16 bytes, must be 16-byte aligned) as floats.
template <typename T>
__device__ inline void load_vec(const T* __restrict__ src, float* dst);
template <>
__device__ inline void load_vec<float>(const float* __restrict__ src, float* dst) {
  float4 v = *reinterpret_cast<const float4*>(src);
  dst[0] = v.x;
  dst[1] = v.y;
  dst[2] = v.z;
  dst[3] = v.w;
}
template <>
__device__ inline void load_vec<__nv_bfloat16>(const __nv_bfloat16* __restrict__ src, float* dst) {
  uint4 raw = *reinterpret_cast<const uint4*>(src);
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 f = __bfloat1622float2(p[i]);
    dst[2 * i] = f.x;
    dst[2 * i + 1] = f.y;
  }
}

template <typename T>
__device__ inline void store_vec(T* __restrict__ dst, const float* src);
template <>
__device__ inline void store_vec<float>(float* __restrict__ dst, const float* src) {
  *reinterpret_cast<float4*>(dst) = make_float4(src[0], src[1], src[2], src[3]);
}
template <>
__device__ inline void store_vec<__nv_bfloat16>(__nv_bfloat16* __restrict__ dst, const float* src) {
  uint4 raw;
  __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) p[i] = __floats2bfloat162_rn(src[2 * i], src[2 * i + 1]);
  *reinterpret_cast<uint4*>(dst) = raw;
}

/// A row of D values (D a multiple of Vec<T>::N) into registers.
template <typename T, int D>
__device__ inline void load_row(const T* __restrict__ src, float (&dst)[D]) {
#pragma unroll
  for (int i = 0; i < D; i += Vec<T>::N) load_vec<T>(src + i, dst + i);
}
template <typename T, int D>
__device__ inline void store_row(T* __restrict__ dst, const float (&src)[D]) {
#pragma unroll
  for (int i = 0; i < D; i += Vec<T>::N) store_vec<T>(dst + i, src + i);
}

__device__ inline float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace flare::cuda

/// Runtime head dim -> compile-time DD (the mixer kernels are instantiated for 8, 16, 32, 64;
/// check the dim before switching).
#define FLARE_D_SWITCH(D_RUNTIME, ...)          \
  switch (D_RUNTIME) {                          \
    case 8: {                                   \
      constexpr int DD = 8;                     \
      __VA_ARGS__;                              \
    } break;                                    \
    case 16: {                                  \
      constexpr int DD = 16;                    \
      __VA_ARGS__;                              \
    } break;                                    \
    case 32: {                                  \
      constexpr int DD = 32;                    \
      __VA_ARGS__;                              \
    } break;                                    \
    default: {                                  \
      constexpr int DD = 64;                    \
      __VA_ARGS__;                              \
    } break;                                    \
  }
