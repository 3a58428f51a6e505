// The CUDA backend of the model: an OpTable<float> over kernels/cuda (fp32, no TF32), and an
// OpTable<Bf16, float> (bf16 activations, fp32 params), whose Memory
// is device memory on one CudaContext's stream. Compiled only when the flare_cuda target exists
// (surrogate/CMakeLists.txt), so the surrogate library builds without nvcc.
#pragma once

#include "surrogate/ops_table.h"

namespace flare::cuda {
class CudaContext;
}

namespace flare::surrogate {

/// The fp32 CUDA op table on `ctx` (which must outlive every use of the table).
OpTable<float> cuda_ops(cuda::CudaContext& ctx);

/// The bf16-activation CUDA op table on `ctx` (fp32 params, statistics and latent tensors).
OpTable<Bf16, float> cuda_ops_bf16(cuda::CudaContext& ctx);

/// A Backend owning a new CudaContext on device gpu_slot % (visible GPUs). InputError when no GPU
/// is present.
Backend cuda_backend(int gpu_slot = 0);

}  // namespace flare::surrogate
