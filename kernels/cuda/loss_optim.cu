// Losses, norms, AdamW. Reductions: grid-stride fp32 partial per thread, warp shuffle, one fp64
// atomicAdd per warp into CudaContext::reduce_slots (zeroed per call with a memset).
// rel_l2 finds each row's mesh by binary search over the device offsets (B is small), so one
// launch covers a packed batch; its backward reads the two sums per mesh from the slots.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/loss_optim.cuh"

namespace flare::cuda {
namespace {

#define FLARE_GRID_STRIDE(i, n)                                                     \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

unsigned grid_for(const CudaContext& ctx, std::int64_t n) {
  return unsigned(std::max<std::int64_t>(
      1, std::min<std::int64_t>((n + 255) / 256, std::int64_t(ctx.sm_count()) * 8)));
}

__device__ inline void warp_atomic_add(double* slot, float v) {
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) atomicAdd(slot, double(v));
}

__global__ void sum_squares_kernel(const float* __restrict__ x, std::int64_t n, double* out) {
  float s = 0.f;
  FLARE_GRID_STRIDE(i, n) s += x[i] * x[i];
  warp_atomic_add(out, s);
}

template <typename T>
__global__ void mse_fwd_kernel(const T* __restrict__ p, const float* __restrict__ t,
                               std::int64_t n, double* out) {
  float s = 0.f;
  FLARE_GRID_STRIDE(i, n) {
    const float d = to_float(p[i]) - t[i];
    s += d * d;
  }
  warp_atomic_add(out, s);
}

template <typename T>
__global__ void mse_bwd_kernel(const T* __restrict__ p, const float* __restrict__ t,
                               std::int64_t n, float f, T* __restrict__ dp) {
  FLARE_GRID_STRIDE(i, n) dp[i] = from_float<T>(to_float(dp[i]) + f * (to_float(p[i]) - t[i]));
}

__device__ inline int mesh_of(const std::int64_t* offsets, int B, std::int64_t row) {
  int lo = 0, hi = B - 1;  // largest b with offsets[b] <= row
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// sums[2b] += Σ (s(p − t))², sums[2b+1] += Σ (s·t + μ)² over mesh b (s, μ the column's
// col_scale and col_shift, 1 and 0 where nullptr). One row-element per step; warps whose elements
// all lie in one mesh (the common case) reduce before the atomic.
template <typename T>
__global__ void rel_l2_sums_kernel(const T* __restrict__ p, const float* __restrict__ t,
                                   const std::int64_t* __restrict__ offsets, int B,
                                   std::int64_t total, int ncols,
                                   const float* __restrict__ col_scale,
                                   const float* __restrict__ col_shift, double* __restrict__ sums) {
  const std::int64_t n = total * ncols;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t base = std::int64_t(blockIdx.x) * blockDim.x; base < n; base += stride) {
    const std::int64_t i = base + threadIdx.x;
    float e = 0.f, r = 0.f;
    int b = -1;
    if (i < n) {
      b = mesh_of(offsets, B, i / ncols);
      const int c = int(i % ncols);
      const float s = col_scale ? col_scale[c] : 1.f;
      const float d = s * (to_float(p[i]) - t[i]);
      const float y = col_shift ? fmaf(s, t[i], col_shift[c]) : s * t[i];
      e = d * d;
      r = y * y;
    }
    const int b0 = __shfl_sync(0xffffffffu, b, 0);
    if (__all_sync(0xffffffffu, b == b0 || b == -1)) {
      e = warp_sum(e);
      r = warp_sum(r);
      if ((threadIdx.x & 31) == 0 && b0 >= 0) {
        atomicAdd(sums + 2 * b0, double(e));
        atomicAdd(sums + 2 * b0 + 1, double(r));
      }
    } else if (b >= 0) {
      atomicAdd(sums + 2 * b, double(e));
      atomicAdd(sums + 2 * b + 1, double(r));
    }
  }
}

template <typename T>
__global__ void rel_l2_bwd_kernel(const T* __restrict__ p, const float* __restrict__ t,
                                  const std::int64_t* __restrict__ offsets, int B,
                                  std::int64_t total, int ncols,
                                  const float* __restrict__ col_scale, float scale,
                                  const double* __restrict__ sums, T* __restrict__ dp) {
  FLARE_GRID_STRIDE(i, total * ncols) {
    const int b = mesh_of(offsets, B, i / ncols);
    // As kernels/ref/rel_l2.h: p = t exactly gives the subgradient 0; an all-zero target with
    // p != t gives inf (the metric is undefined there, and a zero target is a broken data set).
    if (sums[2 * b] > 0) {
      float f = float(double(scale) / B / (sqrt(sums[2 * b]) * sqrt(sums[2 * b + 1])));
      if (col_scale) {
        const float s = col_scale[i % ncols];
        f *= s * s;
      }
      dp[i] = from_float<T>(to_float(dp[i]) + f * (to_float(p[i]) - t[i]));
    }
  }
}

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, std::int64_t n,
                             float b1, float b2, float eps, float decay,
                             const std::uint8_t* __restrict__ mask, float step_size,
                             float inv_sqrt_bc2, const double* __restrict__ grad_sumsq,
                             double clip_norm) {
  // Every thread derives the factor from the one device sum (kernels::AdamW::clip_factor, in
  // double): no launch or host read between the norm and the step.
  float clip = 1.f;
  if (grad_sumsq) {
    const double coef = clip_norm / (sqrt(*grad_sumsq) + 1e-6);
    if (coef < 1.0) clip = float(coef);
  }
  FLARE_GRID_STRIDE(i, n) {
    const float d = !mask || mask[i] ? decay : 1.f;
    const float gi = g[i] * clip;
    const float mi = b1 * m[i] + (1.f - b1) * gi;
    const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * d - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

__global__ void ema_kernel(float* __restrict__ ema, const float* __restrict__ p, std::int64_t n,
                           float d, float a) {
  FLARE_GRID_STRIDE(i, n) ema[i] = a * p[i] + d * ema[i];
}

// Device doubles [count] to the host, through the pinned staging area. Synchronises.
std::vector<double> read_back(CudaContext& ctx, const double* src, int count) {
  FLARE_CUDA_CHECK(cudaMemcpyAsync(ctx.host_staging(), src, count * sizeof(double),
                                   cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  return std::vector<double>(ctx.host_staging(), ctx.host_staging() + count);
}

void zero_slots(CudaContext& ctx, double* out, int count) {
  FLARE_CUDA_CHECK(cudaMemsetAsync(out, 0, count * sizeof(double), ctx.stream()));
}

// loss = sum / n, err[b] = √e_b / √r_b: the host tiers' double arithmetic (IEEE division and
// square root are correctly rounded on both sides).
__global__ void mean_kernel(double* loss, double n) { *loss = *loss / n; }
__global__ void rel_l2_finish_kernel(const double* __restrict__ sums, int B, double* err) {
  for (int b = threadIdx.x; b < B; b += blockDim.x) err[b] = sqrt(sums[2 * b]) / sqrt(sums[2 * b + 1]);
}

}  // namespace

void sum_squares_to(CudaContext& ctx, const float* x, std::int64_t n, double* out) {
  NVTX_RANGE_FN();
  zero_slots(ctx, out, 1);
  if (n > 0) {
    sum_squares_kernel<<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(x, n, out);
    FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  }
}

double sum_squares(CudaContext& ctx, const float* x, std::int64_t n) {
  sum_squares_to(ctx, x, n, ctx.reduce_slots());
  return read_back(ctx, ctx.reduce_slots(), 1)[0];
}

void adamw_step(CudaContext& ctx, float* params, const float* grads, float* m, float* v,
                std::int64_t n, const kernels::AdamW& hp) {
  NVTX_RANGE_FN();
  FLARE_CHECK(hp.step >= 1, "adamw_step: step counts from 1, got ", hp.step);
  if (n <= 0) return;
  const double bc1 = 1.0 - std::pow(double(hp.beta1), double(hp.step));
  const double bc2 = 1.0 - std::pow(double(hp.beta2), double(hp.step));
  adamw_kernel<<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(
      params, grads, m, v, n, hp.beta1, hp.beta2, hp.eps,
      float(1.0 - double(hp.lr) * hp.weight_decay), hp.decay_mask, float(hp.lr / bc1),
      float(1.0 / std::sqrt(bc2)), hp.grad_sumsq, hp.clip_norm);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

void ema_update(CudaContext& ctx, float* ema, const float* params, std::int64_t n, double decay) {
  NVTX_RANGE_FN();
  if (n <= 0) return;
  ema_kernel<<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(ema, params, n, float(decay),
                                                         float(1.0 - decay));
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
void mse_fwd_to(CudaContext& ctx, const T* pred, const float* target, std::int64_t n,
                double* loss) {
  NVTX_RANGE_FN();
  FLARE_CHECK(n > 0, "mse_fwd: the mean of zero values is undefined");
  zero_slots(ctx, loss, 1);
  mse_fwd_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(pred, target, n, loss);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  mean_kernel<<<1, 1, 0, ctx.stream()>>>(loss, double(n));
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
double mse_fwd(CudaContext& ctx, const T* pred, const float* target, std::int64_t n) {
  mse_fwd_to(ctx, pred, target, n, ctx.reduce_slots());
  return read_back(ctx, ctx.reduce_slots(), 1)[0];
}

template <typename T>
void mse_bwd(CudaContext& ctx, const T* pred, const float* target, std::int64_t n, float scale,
             T* dpred) {
  FLARE_CHECK(n > 0, "mse_bwd: the mean of zero values is undefined");
  mse_bwd_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream()>>>(pred, target, n,
                                                                float(2.0 * scale / double(n)), dpred);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

namespace {
template <typename T>
void rel_l2_sums(CudaContext& ctx, const T* pred, const float* target, const std::int64_t* offsets,
                 int B, std::int64_t total_rows, int ncols, const float* col_scale,
                 const float* col_shift) {
  FLARE_CHECK(B >= 1 && 2 * B <= CudaContext::kReduceSlots, "rel_l2: B=", B, " meshes per batch (at most ",
              CudaContext::kReduceSlots / 2, ")");
  zero_slots(ctx, ctx.reduce_slots(), 2 * B);
  if (total_rows * ncols > 0) {
    rel_l2_sums_kernel<T><<<grid_for(ctx, total_rows * ncols), 256, 0, ctx.stream()>>>(
        pred, target, offsets, B, total_rows, ncols, col_scale, col_shift, ctx.reduce_slots());
    FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  }
}
}  // namespace

template <typename T>
void rel_l2_fwd_to(CudaContext& ctx, const T* pred, const float* target,
                   const std::int64_t* offsets, int B, std::int64_t total_rows, int ncols,
                   const float* col_scale, const float* col_shift, double* err) {
  NVTX_RANGE_FN();
  rel_l2_sums(ctx, pred, target, offsets, B, total_rows, ncols, col_scale, col_shift);
  // inf or NaN for an all-zero target, as the ref tier
  rel_l2_finish_kernel<<<1, 128, 0, ctx.stream()>>>(ctx.reduce_slots(), B, err);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template <typename T>
std::vector<double> rel_l2_fwd(CudaContext& ctx, const T* pred, const float* target,
                               const std::int64_t* offsets, int B, std::int64_t total_rows,
                               int ncols, const float* col_scale, const float* col_shift) {
  // The errors land in the slots after the 2B sums (at most kReduceSlots/2 meshes, so they fit).
  double* err = ctx.reduce_slots() + 2 * B;
  FLARE_CHECK(3 * B <= CudaContext::kReduceSlots, "rel_l2: B=", B, " meshes per batch (at most ",
              CudaContext::kReduceSlots / 3, ")");
  rel_l2_fwd_to(ctx, pred, target, offsets, B, total_rows, ncols, col_scale, col_shift, err);
  return read_back(ctx, err, B);
}

template <typename T>
void rel_l2_bwd(CudaContext& ctx, const T* pred, const float* target, const std::int64_t* offsets,
                int B, std::int64_t total_rows, int ncols, const float* col_scale,
                const float* col_shift, float scale, T* dpred) {
  NVTX_RANGE_FN();
  rel_l2_sums(ctx, pred, target, offsets, B, total_rows, ncols, col_scale, col_shift);
  if (total_rows * ncols == 0) return;
  rel_l2_bwd_kernel<T><<<grid_for(ctx, total_rows * ncols), 256, 0, ctx.stream()>>>(
      pred, target, offsets, B, total_rows, ncols, col_scale, scale, ctx.reduce_slots(), dpred);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

#define FLARE_INSTANTIATE_LOSS(T)                                                                  \
  template double mse_fwd<T>(CudaContext&, const T*, const float*, std::int64_t);                 \
  template void mse_fwd_to<T>(CudaContext&, const T*, const float*, std::int64_t, double*);       \
  template void rel_l2_fwd_to<T>(CudaContext&, const T*, const float*, const std::int64_t*, int,  \
                                 std::int64_t, int, const float*, const float*, double*);         \
  template void mse_bwd<T>(CudaContext&, const T*, const float*, std::int64_t, float, T*);        \
  template std::vector<double> rel_l2_fwd<T>(CudaContext&, const T*, const float*,                \
                                             const std::int64_t*, int, std::int64_t, int,         \
                                             const float*, const float*);                         \
  template void rel_l2_bwd<T>(CudaContext&, const T*, const float*, const std::int64_t*, int,     \
                              std::int64_t, int, const float*, const float*, float, T*);
FLARE_INSTANTIATE_LOSS(float)
FLARE_INSTANTIATE_LOSS(bf16)

}  // namespace flare::cuda
