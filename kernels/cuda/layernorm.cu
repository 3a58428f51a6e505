// LayerNorm: one warp per row (C = 64..1024 channels: lanes stride over the row, which stays in
// L1 between the passes). Backward (llm.c layernorm_backward):
//   xhat = (x − mean)·rstd;  g = gamma·dy
//   dx += rstd·(g − mean_c(g) − xhat·mean_c(g·xhat));  dgamma += Σ_n dy·xhat;  dbeta += Σ_n dy
// dgamma/dbeta: each block accumulates its rows in shared memory, then one atomicAdd per channel.
#include <algorithm>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/layernorm.cuh"

namespace flare::cuda {
namespace {

constexpr int kWarps = 8;

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    layernorm_fwd_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                         const float* __restrict__ beta, T* __restrict__ y,
                         float* __restrict__ mean, float* __restrict__ rstd, std::int64_t N, int C,
                         float eps) {
  const int lane = threadIdx.x % 32;
  for (std::int64_t row = std::int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < N;
       row += std::int64_t(gridDim.x) * kWarps) {
    const T* xr = x + row * C;
    float s = 0.f;
    for (int c = lane; c < C; c += 32) s += to_float(xr[c]);
    const float mu = warp_sum(s) / C;
    float v = 0.f;
    for (int c = lane; c < C; c += 32) {
      const float d = to_float(xr[c]) - mu;
      v += d * d;
    }
    const float rs = rsqrtf(warp_sum(v) / C + eps);
    for (int c = lane; c < C; c += 32)
      y[row * C + c] = from_float<T>((to_float(xr[c]) - mu) * rs * gamma[c] + beta[c]);
    if (lane == 0) {
      if (mean) mean[row] = mu;
      if (rstd) rstd[row] = rs;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    layernorm_bwd_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                         const float* __restrict__ mean, const float* __restrict__ rstd,
                         const T* __restrict__ dy, T* __restrict__ dx, float* __restrict__ dgamma,
                         float* __restrict__ dbeta, std::int64_t N, int C) {
  extern __shared__ float sh[];  // [2, C]: dgamma, dbeta partials of this block
  float* sdg = sh;
  float* sdb = sh + C;
  for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sh[c] = 0.f;
  __syncthreads();
  const int lane = threadIdx.x % 32;
  for (std::int64_t row = std::int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < N;
       row += std::int64_t(gridDim.x) * kWarps) {
    const float mu = mean[row], rs = rstd[row];
    float sg = 0.f, sgx = 0.f;
    for (int c = lane; c < C; c += 32) {
      const float xh = (to_float(x[row * C + c]) - mu) * rs;
      const float d = to_float(dy[row * C + c]);
      const float g = gamma[c] * d;
      sg += g;
      sgx += g * xh;
      if (dgamma) atomicAdd(sdg + c, d * xh);
      if (dbeta) atomicAdd(sdb + c, d);
    }
    sg = warp_sum(sg) / C;
    sgx = warp_sum(sgx) / C;
    if (dx)
      for (int c = lane; c < C; c += 32) {
        const float xh = (to_float(x[row * C + c]) - mu) * rs;
        const float g = gamma[c] * to_float(dy[row * C + c]);
        dx[row * C + c] = from_float<T>(to_float(dx[row * C + c]) + rs * (g - sg - xh * sgx));
      }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    if (dgamma) atomicAdd(dgamma + c, sdg[c]);
    if (dbeta) atomicAdd(dbeta + c, sdb[c]);
  }
}

unsigned blocks_for(const CudaContext& ctx, std::int64_t N) {
  return unsigned(std::max<std::int64_t>(
      1, std::min<std::int64_t>((N + kWarps - 1) / kWarps, std::int64_t(ctx.sm_count()) * 8)));
}

}  // namespace

template <typename T>
void layernorm_fwd(CudaContext& ctx, const T* x, const float* gamma, const float* beta, T* y,
                   float* mean, float* rstd, std::int64_t N, int C, float eps) {
  NVTX_RANGE_FN();
  FLARE_CHECK(C > 0 && N >= 0, "layernorm_fwd: bad shape N=", N, " C=", C);
  if (N == 0) return;
  layernorm_fwd_kernel<T><<<blocks_for(ctx, N), kWarps * 32, 0, ctx.stream()>>>(
      x, gamma, beta, y, mean, rstd, N, C, eps);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
void layernorm_bwd(CudaContext& ctx, const T* x, const float* gamma, const float* mean,
                   const float* rstd, const T* dy, T* dx, float* dgamma, float* dbeta,
                   std::int64_t N, int C) {
  NVTX_RANGE_FN();
  FLARE_CHECK(C > 0 && C <= 8192 && N >= 0, "layernorm_bwd: bad shape N=", N, " C=", C);
  if (N == 0) return;
  layernorm_bwd_kernel<T><<<blocks_for(ctx, N), kWarps * 32, 2 * C * sizeof(float), ctx.stream()>>>(
      x, gamma, mean, rstd, dy, dx, dgamma, dbeta, N, C);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template void layernorm_fwd<float>(CudaContext&, const float*, const float*, const float*, float*,
                                   float*, float*, std::int64_t, int, float);
template void layernorm_fwd<bf16>(CudaContext&, const bf16*, const float*, const float*, bf16*,
                                  float*, float*, std::int64_t, int, float);
template void layernorm_bwd<float>(CudaContext&, const float*, const float*, const float*,
                                   const float*, const float*, float*, float*, float*,
                                   std::int64_t, int);
template void layernorm_bwd<bf16>(CudaContext&, const bf16*, const float*, const float*,
                                  const float*, const bf16*, bf16*, float*, float*, std::int64_t,
                                  int);

}  // namespace flare::cuda
