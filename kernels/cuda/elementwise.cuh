// Elementwise ops of kernels/ops.h on the GPU: GELU (tanh approximation) forward/backward,
// residual add, GELU + residual fused, in-place scale. T = float or bf16 (math in fp32).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/ops.h"

namespace flare::cuda {

/// y [n] = gelu_tanh(x [n]);  y may alias x.
template <typename T>
void gelu_fwd(CudaContext& ctx, const T* x, T* y, std::int64_t n);
/// dx [n] += gelu_tanh'(x)·dy
template <typename T>
void gelu_bwd(CudaContext& ctx, const T* x, const T* dy, T* dx, std::int64_t n);
/// y = a + b (y may alias a or b).
template <typename T>
void add(CudaContext& ctx, const T* a, const T* b, T* y, std::int64_t n);
/// y = gelu_tanh(x) + r, rounded once (the residual MLP's hidden layer; y may alias x or r).
template <typename T>
void gelu_add_fwd(CudaContext& ctx, const T* x, const T* r, T* y, std::int64_t n);
/// x *= a
void scale_inplace(CudaContext& ctx, float* x, float a, std::int64_t n);
/// dst [rows, map.cols] (i, c) = map.sign[c]·src(i, map.from[c]) (kernels::ColumnMap); src and
/// dst may not overlap.
template <typename T>
void map_columns(CudaContext& ctx, const T* src, T* dst, std::int64_t rows,
                 const kernels::ColumnMap& map);

}  // namespace flare::cuda
