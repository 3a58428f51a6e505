// Internal to kernels/cuda: tensor-core (mma.sync m16n8k16 bf16 → fp32) versions of the mixer's
// kernels (forward: flare_mixer_tc.cu, backward: flare_mixer_tc_bwd.cu), used by flare_mixer.cu
// for bf16 when D ∈ {8, 16, 32, 64} and M % 16 == 0.
#pragma once

#include <cstdint>

#include "kernels/cuda/flare_mixer.cuh"

namespace flare::cuda::tc {

/// Whether the tensor-core path handles this shape.
inline bool supported(const MixerShape& s) {
  return (s.D == 8 || s.D == 16 || s.D == 32 || s.D == 64) && s.M % 16 == 0;
}

/// The grid of a launch over `items` work items (point tiles or chunks) × H heads × B meshes, with
/// the H heads of an item adjacent in blockIdx.x (h = blockIdx.x % H): each head reads its D-wide
/// slice of the same [N, C] rows, so blocks that run together share those rows' DRAM sectors
/// through L2. (With the heads on blockIdx.y every head re-fetched whole sectors for its 2·D
/// bytes a row: ncu, H100, D = 8, 1M points: the decode forward read 1.0 GB a call for a 128 MB K.)
inline dim3 head_major_grid(std::int64_t items, int H, int B) {
  FLARE_CHECK(items * H < (std::int64_t(1) << 31), "mixer: grid of ", items, " x ", H,
              " blocks is too large");
  return dim3(unsigned(items * H), 1u, unsigned(B));
}

/// Inside a kernel on head_major_grid: the block's head and work item (its inverse, kept beside it).
__device__ inline int grid_head(int H) { return int(blockIdx.x % unsigned(H)); }
__device__ inline unsigned grid_item(int H) { return blockIdx.x / unsigned(H); }

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

/// Whether the backward kernels handle this shape: supported() and the point-side kernel's shared
/// memory (Q, Z, dZ of one head as bf16, ~10·M·(D+8) bytes) within the device's opt-in limit.
bool bwd_supported(const CudaContext& ctx, const MixerShape& s);

/// Decode backward's delta_n = Σ_m P[n,m]·(dY_n·Z_m) [ΣN, H], recomputed from the scores.
void bwd_delta(CudaContext& ctx, const float* Q, const bf16* K, const float* Z,
               const float* lse_dec, const bf16* dY, const PackedBatch& batch,
               const MixerShape& s, float* delta);

/// Point side: dK [ΣN, C] += s·dS·Q of decode (dec) and/or encode (enc); dV += Pe·dZ (enc).
/// Either output may be nullptr.
void bwd_point(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V, const float* Z,
               const float* lse_enc, const float* dZ, const float* delta_dec,
               const float* lse_dec, const bf16* dY, const PackedBatch& batch,
               const MixerShape& s, bool dec, bool enc, bf16* dK, bf16* dV);

/// Whether bwd_latent_dec computes decode's delta itself (M <= 64: one block holds every latent)
/// instead of reading it from bwd_delta.
bool bwd_latent_computes_delta(const MixerShape& s);

/// Latent side of decode, chunked as encode_plan: part_dq, part_dz [B, H, chunks, M, D] (written,
/// not accumulated) with dQ = Σ part_dq over meshes and chunks, dZ = Σ part_dz over chunks.
/// delta [ΣN, H]: written when bwd_latent_computes_delta(s), else read (from bwd_delta).
void bwd_latent_dec(CudaContext& ctx, const float* Q, const bf16* K, const float* Z, float* delta,
                    const float* lse_dec, const bf16* dY, const PackedBatch& batch,
                    const MixerShape& s, int chunk, int n_chunks, float* part_dq,
                    float* part_dz);

/// Latent side of encode: part_dq [B, H, chunks, M, D] as bwd_latent_dec.
void bwd_latent_enc(CudaContext& ctx, const float* Q, const bf16* K, const bf16* V,
                    const float* Z, const float* lse_enc, const float* dZ,
                    const PackedBatch& batch, const MixerShape& s, int chunk, int n_chunks,
                    float* part_dq);

}  // namespace flare::cuda::tc
