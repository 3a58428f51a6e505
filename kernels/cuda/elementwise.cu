// Elementwise kernels: grid-stride loops, one element per step (memory-bound; each op reads its
// inputs and writes its output once). gelu constants as in kernels/ref/gelu.h (torch 'tanh').
#include <algorithm>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/elementwise.cuh"

namespace flare::cuda {
namespace {

constexpr float kGeluC = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluA = 0.044715f;

unsigned grid_for(const CudaContext& ctx, std::int64_t n) {
  return unsigned(std::max<std::int64_t>(
      1, std::min<std::int64_t>((n + 255) / 256, std::int64_t(ctx.sm_count()) * 16)));
}

#define FLARE_GRID_STRIDE(i, n)                                                     \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void gelu_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t n) {
  FLARE_GRID_STRIDE(i, n) {
    const float v = to_float(x[i]);
    y[i] = from_float<T>(0.5f * v * (1.f + tanhf(kGeluC * (v + kGeluA * v * v * v))));
  }
}

template <typename T>
__global__ void gelu_bwd_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                T* __restrict__ dx, std::int64_t n) {
  FLARE_GRID_STRIDE(i, n) {
    const float v = to_float(x[i]);
    const float t = tanhf(kGeluC * (v + kGeluA * v * v * v));
    const float g = 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * kGeluC * (1.f + 3.f * kGeluA * v * v);
    dx[i] = from_float<T>(to_float(dx[i]) + g * to_float(dy[i]));
  }
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, std::int64_t n) {  // may alias
  FLARE_GRID_STRIDE(i, n) y[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

__global__ void scale_kernel(float* __restrict__ x, float a, std::int64_t n) {
  FLARE_GRID_STRIDE(i, n) x[i] *= a;
}

}  // namespace

template <typename T>
void gelu_fwd(CudaContext& ctx, const T* x, T* y, std::int64_t n) {
  if (n <= 0) return;
  gelu_fwd_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(x, y, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}
template <typename T>
void gelu_bwd(CudaContext& ctx, const T* x, const T* dy, T* dx, std::int64_t n) {
  if (n <= 0) return;
  gelu_bwd_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(x, dy, dx, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}
template <typename T>
void add(CudaContext& ctx, const T* a, const T* b, T* y, std::int64_t n) {
  if (n <= 0) return;
  add_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(a, b, y, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}
void scale_inplace(CudaContext& ctx, float* x, float a, std::int64_t n) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(x, a, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template void gelu_fwd<float>(CudaContext&, const float*, float*, std::int64_t);
template void gelu_fwd<bf16>(CudaContext&, const bf16*, bf16*, std::int64_t);
template void gelu_bwd<float>(CudaContext&, const float*, const float*, float*, std::int64_t);
template void gelu_bwd<bf16>(CudaContext&, const bf16*, const bf16*, bf16*, std::int64_t);
template void add<float>(CudaContext&, const float*, const float*, float*, std::int64_t);
template void add<bf16>(CudaContext&, const bf16*, const bf16*, bf16*, std::int64_t);

}  // namespace flare::cuda
