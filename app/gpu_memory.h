// Peak device memory of this process, for the GPU timings that commands print (the brief: peak
// GPU memory beside every GPU timing). Every device buffer of the model, its activations and a
// resident dataset goes through cuda::device_malloc, which counts them; the CUDA context and
// cuBLASLt's workspace do not, so nvidia-smi shows a few hundred MiB more. Zero without CUDA.
#pragma once

#include <cstdint>

#ifdef FLARE_WITH_CUDA
#include "kernels/cuda/common.cuh"
#endif

namespace flare::app {

inline std::int64_t gpu_peak_bytes() {
#ifdef FLARE_WITH_CUDA
  return cuda::alloc_stats().bytes_peak;
#else
  return 0;
#endif
}

/// Starts a new peak from what is held now.
inline void reset_gpu_peak() {
#ifdef FLARE_WITH_CUDA
  cuda::reset_alloc_peak();
#endif
}

}  // namespace flare::app
