// LayerNorm over the last dim (kernels/ops.h semantics: biased variance, saved mean and rstd).
// x, y, dy, dx are T (float or bf16); gamma, beta, mean, rstd, dgamma, dbeta are fp32.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// y [N,C] = (x − mean)·rstd·gamma + beta;  mean, rstd [N] saved for backward.
template <typename T>
void layernorm_fwd(CudaContext& ctx, const T* x, const float* gamma, const float* beta, T* y,
                   float* mean, float* rstd, std::int64_t N, int C, float eps);
/// dx [N,C] +=, dgamma [C] +=, dbeta [C] += (any may be nullptr).
template <typename T>
void layernorm_bwd(CudaContext& ctx, const T* x, const float* gamma, const float* mean,
                   const float* rstd, const T* dy, T* dx, float* dgamma, float* dbeta,
                   std::int64_t N, int C);

}  // namespace flare::cuda
