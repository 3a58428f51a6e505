// Elementwise kernels. Memory-bound: each op reads its inputs and writes its output once, so what
// matters is bytes in flight. Where every pointer is 16-byte aligned (the model's N×C buffers
// are), a thread moves Vec<T>::N elements per step in 16-byte accesses (8 bf16 or 4 fp32); the
// scalar loop takes the tail and misaligned views. gelu constants as in kernels/ref/gelu.h
// (torch 'tanh'); math in fp32.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/elementwise.cuh"

namespace flare::cuda {
namespace {

constexpr float kGeluC = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluA = 0.044715f;

__device__ inline float gelu(float v) {
  return 0.5f * v * (1.f + tanhf(kGeluC * (v + kGeluA * v * v * v)));
}
__device__ inline float gelu_grad(float v) {
  const float t = tanhf(kGeluC * (v + kGeluA * v * v * v));
  return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * kGeluC * (1.f + 3.f * kGeluA * v * v);
}

// y = f(a, b, c) elementwise over up to three inputs (Arity of them are read).
struct GeluFwd {
  __device__ float operator()(float x, float, float) const { return gelu(x); }
};
struct GeluBwd {  // dx += gelu'(x)·dy:  a = x, b = dy, c = dx
  __device__ float operator()(float x, float dy, float dx) const { return dx + gelu_grad(x) * dy; }
};
struct Add {
  __device__ float operator()(float a, float b, float) const { return a + b; }
};
struct GeluAdd {  // gelu(x) + residual, rounded once
  __device__ float operator()(float x, float r, float) const { return gelu(x) + r; }
};

unsigned grid_for(const CudaContext& ctx, std::int64_t work) {
  return unsigned(std::max<std::int64_t>(
      1, std::min<std::int64_t>((work + 255) / 256, std::int64_t(ctx.sm_count()) * 16)));
}

#define FLARE_GRID_STRIDE(i, n)                                                     \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

// y may alias any input: each element is read before it is written, by the same thread.
template <typename T, int Arity, bool Vectorised, typename F>
__global__ void map_kernel(F f, std::int64_t n, T* y, const T* a, const T* b, const T* c) {
  std::int64_t done = 0;
  if constexpr (Vectorised) {
    constexpr int V = Vec<T>::N;
    const std::int64_t nv = n / V;
    FLARE_GRID_STRIDE(v, nv) {
      float ra[V], rb[V] = {}, rc[V] = {}, ry[V];
      load_vec<T>(a + v * V, ra);
      if constexpr (Arity > 1) load_vec<T>(b + v * V, rb);
      if constexpr (Arity > 2) load_vec<T>(c + v * V, rc);
#pragma unroll
      for (int k = 0; k < V; ++k) ry[k] = f(ra[k], rb[k], rc[k]);
      store_vec<T>(y + v * V, ry);
    }
    done = nv * V;
  }
  FLARE_GRID_STRIDE(j, n - done) {
    const std::int64_t i = done + j;
    const float vb = Arity > 1 ? to_float(b[i]) : 0.f;
    const float vc = Arity > 2 ? to_float(c[i]) : 0.f;
    y[i] = from_float<T>(f(to_float(a[i]), vb, vc));
  }
}


template <typename T, int Arity, typename F>
void launch_map(CudaContext& ctx, F f, std::int64_t n, T* y, const T* a, const T* b = nullptr,
                const T* c = nullptr) {
  if (n <= 0) return;
  if (aligned(y, 16) && aligned(a, 16) && aligned(b, 16) && aligned(c, 16)) {
    map_kernel<T, Arity, true><<<grid_for(ctx, n / Vec<T>::N + 1), 256, 0, ctx.stream()>>>(
        f, n, y, a, b, c);
  } else {
    map_kernel<T, Arity, false><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(f, n, y, a, b, c);
  }
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

__global__ void scale_kernel(float* __restrict__ x, float a, std::int64_t n) {
  FLARE_GRID_STRIDE(i, n) x[i] *= a;
}

}  // namespace

template <typename T>
void gelu_fwd(CudaContext& ctx, const T* x, T* y, std::int64_t n) {
  launch_map<T, 1>(ctx, GeluFwd{}, n, y, x);
}
template <typename T>
void gelu_bwd(CudaContext& ctx, const T* x, const T* dy, T* dx, std::int64_t n) {
  launch_map<T, 3>(ctx, GeluBwd{}, n, dx, x, dy, dx);
}
template <typename T>
void add(CudaContext& ctx, const T* a, const T* b, T* y, std::int64_t n) {
  launch_map<T, 2>(ctx, Add{}, n, y, a, b);
}
template <typename T>
void gelu_add_fwd(CudaContext& ctx, const T* x, const T* r, T* y, std::int64_t n) {
  launch_map<T, 2>(ctx, GeluAdd{}, n, y, x, r);
}
void scale_inplace(CudaContext& ctx, float* x, float a, std::int64_t n) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(x, a, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

namespace {
// One thread per element: the arrays are a few columns wide and the map travels by value.
template <typename T>
__global__ void map_columns_kernel(const T* __restrict__ src, T* __restrict__ dst,
                                   std::int64_t rows, kernels::ColumnMap map) {
  const int C = map.cols;
  FLARE_GRID_STRIDE(i, rows * C) {
    const std::int64_t r = i / C;
    const int c = int(i - r * C);
    dst[i] = from_float<T>(map.sign[c] * to_float(src[r * C + map.from[c]]));
  }
}
}  // namespace

template <typename T>
void map_columns(CudaContext& ctx, const T* src, T* dst, std::int64_t rows,
                 const kernels::ColumnMap& map) {
  if (rows <= 0 || map.cols <= 0) return;
  map_columns_kernel<T><<<grid_for(ctx, rows * map.cols), 256, 0, ctx.stream()>>>(src, dst, rows,
                                                                                  map);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}
template void map_columns<float>(CudaContext&, const float*, float*, std::int64_t,
                                 const kernels::ColumnMap&);
template void map_columns<bf16>(CudaContext&, const bf16*, bf16*, std::int64_t,
                                const kernels::ColumnMap&);

template void gelu_fwd<float>(CudaContext&, const float*, float*, std::int64_t);
template void gelu_fwd<bf16>(CudaContext&, const bf16*, bf16*, std::int64_t);
template void gelu_bwd<float>(CudaContext&, const float*, const float*, float*, std::int64_t);
template void gelu_bwd<bf16>(CudaContext&, const bf16*, const bf16*, bf16*, std::int64_t);
template void add<float>(CudaContext&, const float*, const float*, float*, std::int64_t);
template void add<bf16>(CudaContext&, const bf16*, const bf16*, bf16*, std::int64_t);
template void gelu_add_fwd<float>(CudaContext&, const float*, const float*, float*, std::int64_t);
template void gelu_add_fwd<bf16>(CudaContext&, const bf16*, const bf16*, bf16*, std::int64_t);

}  // namespace flare::cuda
