// FLARE mixer on the GPU: the four ops of kernels/ops.h (flare_encode_fwd, flare_decode_fwd,
// flare_decode_bwd, flare_encode_bwd) plus a fused backward of the whole mixer. Same layouts as the
// ref/cpu tiers; device pointers; fp32 (T = float) or bf16 (T = bf16) for the point-sized tensors.
//
// Precision: K, V, Y, dY, dK, dV (size N·C) are T; the latent-sized Q, Z, dQ, dZ and every lse are
// fp32 (tiny, and they are reduction results). All arithmetic accumulates in fp32.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// A packed batch on the device: mesh b owns rows offsets[b] .. offsets[b+1] of every [ΣN, C]
/// tensor. max_points (the largest mesh) sizes the grids without reading offsets back.
struct PackedBatch {
  const std::int64_t* offsets = nullptr;  ///< device [B+1], offsets[0] = 0
  int B = 0;
  std::int64_t max_points = 0;    ///< max_b (offsets[b+1] - offsets[b])
  std::int64_t total_points = 0;  ///< offsets[B]
};

struct MixerShape {
  int H = 8;        ///< heads
  int M = 64;       ///< latents per head (any M >= 1)
  int D = 8;        ///< head dim: 8, 16, 32 or 64
  float scale = 1;  ///< score scale s
  /// bf16 on tensor cores (version 2) where M % 16 == 0; false forces
  /// the CUDA-core kernels (version 1), for comparisons.
  bool tensor_cores = true;
  /// With tensor_cores: the backward on tensor cores too; false keeps version 1's backward
  /// behind a tensor-core forward (to time the backward alone).
  bool tensor_core_bwd = true;
};

/// Encode: Z[b,h] = softmax_N(s·Q[h]·K[b,h]ᵀ)·V[b,h]; lse[b,h,m] = log Σ_n exp(s·q_m·k_n).
/// Empty meshes give Z = 0, lse = -inf.
/// @param[in]  Q   [H, M, D]
/// @param[in]  K,V [ΣN, H·D]
/// @param[out] Z   [B, H, M, D]
/// @param[out] lse [B, H, M]
template <typename T>
void flare_encode_fwd(CudaContext& ctx, const float* Q, const T* K, const T* V,
                      const PackedBatch& batch, const MixerShape& shape, float* Z, float* lse);

/// Decode: Y[n,h] = softmax_M(s·K[n,h]·Q[h]ᵀ)·Z[b,h]; lse[n,h] = log Σ_m exp(s·k_n·q_m).
/// @param[out] Y   [ΣN, H·D]
/// @param[out] lse [ΣN, H]
template <typename T>
void flare_decode_fwd(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                      const PackedBatch& batch, const MixerShape& shape, T* Y, float* lse);

/// Decode backward from the saved lse: dQ [H,M,D] +=, dK [ΣN,C] +=, dZ [B,H,M,D] +=.
/// Any gradient output may be nullptr. Unlike the ref/cpu tiers it does not take the saved Y:
/// rowsum(dY∘Y) is recomputed from the scores in fp32, because a bf16 Y would carry its rounding
/// into every gradient (see flare_mixer.cu).
template <typename T>
void flare_decode_bwd(CudaContext& ctx, const float* Q, const T* K, const float* Z,
                      const float* lse, const T* dY, const PackedBatch& batch,
                      const MixerShape& shape, float* dQ, T* dK, float* dZ);

/// Encode backward from saved Z and lse: dQ [H,M,D] +=, dK [ΣN,C] +=, dV [ΣN,C] +=.
template <typename T>
void flare_encode_bwd(CudaContext& ctx, const float* Q, const T* K, const T* V, const float* Z,
                      const float* lse, const float* dZ, const PackedBatch& batch,
                      const MixerShape& shape, float* dQ, T* dK, T* dV);

/// Whole-mixer backward (decode then encode) with dK of both stages computed in one pass over the
/// points: three passes over N instead of four. dQ, dK, dV accumulate (+=); dZ [B,H,M,D] is a
/// work buffer that is overwritten with the gradient at Z.
template <typename T>
void flare_mixer_bwd(CudaContext& ctx, const float* Q, const T* K, const T* V, const float* Z,
                     const float* lse_enc, const float* lse_dec, const T* dY,
                     const PackedBatch& batch, const MixerShape& shape, float* dQ, T* dK, T* dV,
                     float* dZ);

/// Whether flare_encode_fwd/flare_decode_fwd of this precision and shape run the tensor-core
/// kernels (version 2) or the CUDA-core ones (version 1).
bool mixer_uses_tensor_cores(const MixerShape& shape, bool bf16_tensors);

/// Whether the backward ops run the tensor-core kernels (version 2) on this context's device.
bool mixer_bwd_uses_tensor_cores(const CudaContext& ctx, const MixerShape& shape,
                                 bool bf16_tensors);

}  // namespace flare::cuda
