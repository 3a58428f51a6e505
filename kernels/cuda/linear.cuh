// Linear layers through cuBLASLt (llm.c matmul.cuh: every GEMM goes through one wrapper).
// Layouts as kernels/ops.h: x [N, in], W [out, in] (torch.nn.Linear), y [N, out], row-major.
// T = float: fp32 in, fp32 compute (no TF32: results comparable to the ref tier).
// T = bf16:  bf16 x, W, y, dy, dx with fp32 accumulation; dW, db and the bias stay fp32 (master
//            weights and their gradients are fp32 everywhere, STYLE.md point 1).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// y [N,out] = x [N,in] · Wᵀ + b;  b [out] fp32 or nullptr (bias fused as a cuBLASLt epilogue).
template <typename T>
void linear_fwd(CudaContext& ctx, const T* x, const T* W, const float* b, T* y, std::int64_t N,
                int in, int out);

/// dx [N,in] += dy·W;  dW [out,in] += dyᵀ·x;  db [out] += Σ_n dy. Any output may be nullptr.
template <typename T>
void linear_bwd(CudaContext& ctx, const T* x, const T* W, const T* dy, T* dx, float* dW,
                float* db, std::int64_t N, int in, int out);

/// y [n] = bf16(x [n]): refreshes the bf16 copy of fp32 master weights after an optimizer step.
void cast_to_bf16(CudaContext& ctx, const float* x, bf16* y, std::int64_t n);

}  // namespace flare::cuda
