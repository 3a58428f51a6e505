// The FLARE model (../shared/design/flare.md) over one flat parameter buffer (ParamLayout), as
// direct calls of the ops in an OpTable (llm.c gpt2_forward style: no graph, no autograd).
//
// Batches are packed: B meshes of different sizes concatenated along the point axis, mesh b owns
// rows offsets[b] .. offsets[b+1] of x [ΣN, F] and y [ΣN, T]; nothing is padded and no op mixes
// meshes except through the per-mesh softmax over points in the encode.
//
// forward() keeps every activation that backward() needs, in buffers owned by the model that grow
// to the largest batch seen and are then reused (no allocation in a steady training loop).
// The buffers come from the op table's Memory: host arrays for the cpu/ref tiers, device arrays for
// CUDA. params, x, y and dy are pointers in that same memory; offsets are always host arrays (the
// model copies them to where the ops read them).
// infer() keeps nothing between blocks: it runs block by block through one block's worth of
// scratch and two residual-stream buffers, so its memory does not grow with L.
#pragma once

#include <cstdint>
#include <vector>

#include "surrogate/buffer.h"

#include "surrogate/ops_table.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

template <typename T>
class Model {
 public:
  /// `layout` must outlive the model.
  Model(const ParamLayout& layout, OpTable<T> ops);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

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

  /// infer() from host x [ΣN, F] to host y [ΣN, T] (params in the table's memory): staged
  /// through reusable buffers on a device backend, direct on the host.
  void infer_host(const T* params, const T* x_host, const std::int64_t* offsets, int B,
                  T* y_host);

  /// Activation checkpointing per block: training forward() keeps only the residual stream (L+1
  /// [N, C] buffers) and one block's activations, and backward() re-runs each block's forward
  /// just before its backward. About 1/3 more work for about L times less activation memory
  /// (the blocks hold ~31 [N, C] tensors each); gradients are the same bit for bit. Takes effect
  /// at the next forward().
  void set_recompute(bool on) { m_recompute = on; }
  bool recompute() const { return m_recompute; }

  /// Bytes currently held in activation and scratch buffers.
  std::int64_t buffer_bytes() const;

  const ParamLayout& layout() const { return m_layout; }
  const OpTable<T>& ops() const { return m_ops; }

 private:
  using Buf = Buffer<T>;
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

  void ensure(Buf& b, std::int64_t n) { b.ensure(m_ops.mem, n, "model activations"); }
  void zero(Buf& b, std::int64_t n) { b.zero(n); }
  void copy(const T* src, std::int64_t n, T* dst) {
    if (n > 0) m_ops.mem.copy(m_ops.ctx, dst, src, std::size_t(n) * sizeof(T));
  }
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
  // The batch of the last forward(): offsets on the host and where the ops read them.
  std::vector<std::int64_t> m_offsets;
  Buffer<std::int64_t> m_offsets_ops;
  BatchView m_batch;
  int m_B = 0;
  std::int64_t m_N = 0;
  bool m_have_train_forward = false;
  bool m_recompute = false;          // set_recompute()
  bool m_forward_recomputes = false; // the mode of the last training forward()
  // Activations: per block in training, slot 0 reused by every block in inference and when
  // recomputing.
  Buf m_x;                         // copy of the input [N, F]
  MlpActs m_in_acts, m_out_acts;
  std::vector<Buf> m_stream;       // residual stream: L+1 buffers (train) or 2 (inference)
  std::vector<BlockActs> m_blocks;
  Buf m_lnf, m_meanf, m_rstdf;     // final LayerNorm
  Grads m_g;
  Buf m_io_x, m_io_y;  // infer_host staging on device backends
};

extern template class Model<float>;
extern template class Model<double>;

}  // namespace flare::surrogate
