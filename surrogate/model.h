// The FLARE model (../shared/design/flare.md) over one flat parameter buffer (ParamLayout), as
// direct calls of the ops in an OpTable (llm.c gpt2_forward style: no graph, no autograd).
//
// Batches are packed: B meshes of different sizes concatenated along the point axis, mesh b owns
// rows offsets[b] .. offsets[b+1] of x [ΣN, F] and y [ΣN, T]; nothing is padded and no op mixes
// meshes except through the per-mesh softmax over points in the encode.
//
// forward() keeps every activation that backward() needs, in buffers owned by the model that grow
// to the largest batch seen and are then reused (no allocation in a steady training loop).
// infer() keeps nothing between blocks: it runs block by block through one block's worth of
// scratch and two residual-stream buffers, so its memory does not grow with L.
#pragma once

#include <cstdint>
#include <vector>

#include "surrogate/ops_table.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

template <typename T>
class Model {
 public:
  /// `layout` must outlive the model.
  Model(const ParamLayout& layout, OpTable<T> ops);

  /// Training-mode forward; remembers the batch and its activations for backward().
  /// @param[in] params  [layout.size()]
  /// @param[in] x       [ΣN, F] normalised input features
  /// @param[in] offsets [B+1] row offsets of the meshes, offsets[0] = 0
  /// @param[out] y      [ΣN, T]
  void forward(const T* params, const T* x, const std::int64_t* offsets, int B, T* y);

  /// Gradient of the last forward(): grads [layout.size()] += ∂loss/∂params given dy [ΣN, T] =
  /// ∂loss/∂y. Callers zero grads once per step (ops accumulate).
  void backward(const T* params, const T* dy, T* grads);

  /// Inference: same outputs as forward(), no activations kept.
  void infer(const T* params, const T* x, const std::int64_t* offsets, int B, T* y);

  /// Bytes currently held in activation and scratch buffers.
  std::int64_t buffer_bytes() const;

  const ParamLayout& layout() const { return m_layout; }

 private:
  using Buf = std::vector<T>;
  struct MlpActs {
    std::vector<Buf> pre, hid;  // per hidden layer: pre-activation and hidden state [N, hidden]
  };
  struct BlockActs {
    Buf ln1, mean1, rstd1;
    MlpActs k_mlp, kd_mlp, v_mlp, f_mlp;
    Buf k, kd, v;          // [N, C] projections
    Buf kn, kmean, krstd;  // qk_norm: normalised keys [N, C], stats [N·H]
    Buf kdn, kdmean, kdrstd;
    Buf qn, qmean, qrstd;  // qk_norm: normalised latents [H·M·D], stats [H·M]
    Buf z, lse_enc;        // [B, H, M, D], [B, H, M]
    Buf y, lse_dec;        // [N, C], [N, H]
    Buf xmid;              // x + mixer(LN1(x))
    Buf ln2, mean2, rstd2;
    Buf tmp;               // mixer output / ffn output before the residual add
  };
  struct Grads {
    Buf dx_a, dx_b, dxmid, dln1, dln2, dy, dz, dqn, dkn, dkdn, dk, dkd, dv, dh, da, dlnf;
  };

  void resize(std::int64_t N, int B, bool train);
  void resize_mlp(MlpActs& a, const MlpSlots& s, std::int64_t N);
  void mlp_fwd(const MlpSlots& s, const T* P, const T* x, std::int64_t N, MlpActs& a, T* out);
  void mlp_bwd(const MlpSlots& s, const T* P, const T* x, std::int64_t N, MlpActs& a,
               const T* dout, T* dx, T* G);
  void block_fwd(const BlockSlots& s, const T* P, const T* xin, BlockActs& a, T* xout);
  void block_bwd(const BlockSlots& s, const T* P, const T* xin, BlockActs& a, const T* dxout,
                 T* dxin, T* G);
  void run(const T* params, const T* x, const std::int64_t* offsets, int B, T* y, bool train);

  const ParamLayout& m_layout;
  OpTable<T> m_ops;
  // The batch of the last forward().
  std::vector<std::int64_t> m_offsets;
  int m_B = 0;
  std::int64_t m_N = 0;
  bool m_have_train_forward = false;
  // Activations: per block in training, slot 0 reused by every block in inference.
  Buf m_x;                         // copy of the input [N, F]
  MlpActs m_in_acts, m_out_acts;
  std::vector<Buf> m_stream;       // residual stream: L+1 buffers (train) or 2 (inference)
  std::vector<BlockActs> m_blocks;
  Buf m_lnf, m_meanf, m_rstdf;     // final LayerNorm
  Grads m_g;
};

extern template class Model<float>;
extern template class Model<double>;

}  // namespace flare::surrogate
