// Internal to kernels/cuda: tensor-core (mma.sync m16n8k16 bf16 → fp32) versions of the mixer's
// forward kernels, used by flare_mixer.cu for bf16 when D ∈ {8, 16, 32, 64} and M % 16 == 0.
#pragma once

#include <cstdint>

#include "kernels/cuda/flare_mixer.cuh"

namespace flare::cuda::tc {

/// Whether the tensor-core path handles this shape.
inline bool supported(const MixerShape& s) {
  return (s.D == 8 || s.D == 16 || s.D == 32 || s.D == 64) && s.M % 16 == 0;
}

/// Chunking of the encode split for the tensor-core kernel (64-point tiles, 64-latent tiles).
void encode_plan(const CudaContext& ctx, const PackedBatch& batch, const MixerShape& s, int& chunk,
                 int& n_chunks);

/// Per-chunk partials in the format of flare_encode_combine_kernel: part_ml [B,H,chunks,M,2]
/// (running max in log2 units, sum), part_acc [B,H,chunks,M,D] (unnormalised).
void encode_partials(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V,
                     const PackedBatch& batch, const MixerShape& s, int chunk, int n_chunks,
                     float* part_ml, float* part_acc);

/// Decode forward: Y [ΣN, C] bf16, lse [ΣN, H].
void decode_fwd(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
                const PackedBatch& batch, const MixerShape& s, bf16* Y, float* lse);

}  // namespace flare::cuda::tc
