// Losses, norms and the optimizer on the GPU (kernels/ops.h semantics). Reductions accumulate per
// thread in fp32 over short strides, then in fp64 across the grid (atomicAdd on doubles), so the
// results do not drift with N. Functions that return a value synchronise the stream.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/ops.h"

namespace flare::cuda {

/// Σ x² over n values (for gradient-norm clipping). Synchronises.
double sum_squares(CudaContext& ctx, const float* x, std::int64_t n);
/// The same into out [1] (device), without a host sync: adamw_step's hp.grad_sumsq.
void sum_squares_to(CudaContext& ctx, const float* x, std::int64_t n, double* out);

/// One AdamW step over n fp32 parameters (torch.optim.AdamW semantics; kernels::AdamW, including
/// the clipping by hp.grad_sumsq, a device pointer here). No host sync.
void adamw_step(CudaContext& ctx, float* params, const float* grads, float* m, float* v,
                std::int64_t n, const kernels::AdamW& hp);

/// Mean squared error over n values; returns the loss. Synchronises.
template <typename T>
double mse_fwd(CudaContext& ctx, const T* pred, const float* target, std::int64_t n);
/// The same into loss [1] (device), without a host sync.
template <typename T>
void mse_fwd_to(CudaContext& ctx, const T* pred, const float* target, std::int64_t n,
                double* loss);
/// dpred [n] += scale·2(pred − target)/n
template <typename T>
void mse_bwd(CudaContext& ctx, const T* pred, const float* target, std::int64_t n, float scale,
             T* dpred);

/// err[b] = ‖s∘(p − t)‖/‖s∘t + μ‖ over mesh b's rows × T columns (pred, target [ΣN, T]; the
/// fields denormalised per column by col_scale s and col_shift μ [T], device, nullptr = 1 and 0;
/// kernels/ref/rel_l2.h); offsets device [B+1], B ≤ CudaContext::kReduceSlots/2. Returns the B
/// errors. Synchronises.
template <typename T>
std::vector<double> rel_l2_fwd(CudaContext& ctx, const T* pred, const float* target,
                               const std::int64_t* offsets, int B, std::int64_t total_rows,
                               int ncols, const float* col_scale, const float* col_shift);
/// The same B errors into err [B] (device), without a host sync.
template <typename T>
void rel_l2_fwd_to(CudaContext& ctx, const T* pred, const float* target,
                   const std::int64_t* offsets, int B, std::int64_t total_rows, int ncols,
                   const float* col_scale, const float* col_shift, double* err);
/// Gradient of scale·mean_b err[b]: dpred += scale/B·s²∘(p − t)/(‖s∘(p − t)‖·‖s∘t + μ‖). No host
/// sync.
template <typename T>
void rel_l2_bwd(CudaContext& ctx, const T* pred, const float* target, const std::int64_t* offsets,
                int B, std::int64_t total_rows, int ncols, const float* col_scale,
                const float* col_shift, float scale, T* dpred);

/// ema [n] ← decay·ema + (1 − decay)·params (kernels/ops.h ema_update), fp32. No host sync.
void ema_update(CudaContext& ctx, float* ema, const float* params, std::int64_t n, double decay);

}  // namespace flare::cuda
