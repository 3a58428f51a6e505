// The FLARE model (../shared/design/flare.md) over one flat parameter buffer (ParamLayout), as
// direct calls of the ops in an OpTable (llm.c gpt2_forward style: no graph, no autograd).
//
// Batches are packed: B meshes of different sizes concatenated along the point axis, mesh b owns
// rows offsets[b] .. offsets[b+1] of x [ΣN, F] and y [ΣN, T]; nothing is padded and no op mixes
// meshes except through the per-mesh softmax over points in the encode.
//
// forward() keeps every activation that backward() needs, in buffers owned by the model that grow
// to the largest batch seen and are then reused (no allocation in a steady training loop), except
// inside MLPs that run fused: their backward recomputes them from the MLP's input.
// The buffers come from the op table's Memory: host arrays for the cpu/ref tiers, device arrays for
// CUDA. params, x, y and dy are pointers in that same memory; offsets are always host arrays (the
// model copies them to where the ops read them).
//
// Precision: Model<A, P> keeps point-sized activations and their gradients in A and everything
// else (params, grads, LayerNorm mean/rstd, the latent-sized mixer tensors Q/Z/dQ/dZ, lse) in P
// (OpTable<A, P>). With A != P (bf16 on the GPU) the matmul weights are read from an A copy of the
// master params, refreshed at every forward()/infer(); gradients are P. With A = P the params are
// read directly, as before.
// infer() keeps nothing between blocks: it runs block by block through one block's worth of
// scratch and two residual-stream buffers, so its memory does not grow with L.
#pragma once

#include <cstdint>
#include <vector>

#include "surrogate/buffer.h"

#include "surrogate/ops_table.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

/// Wall seconds of infer_host()'s stages, for `predict --timings`. With a device backend the
/// device is synchronised after the model, so its work is not billed to the download.
struct InferStages {
  double upload = 0;    ///< host x to the device (and the cast to A); 0 on the host
  double model = 0;     ///< infer()
  double download = 0;  ///< y back to the host (and widened to P); 0 on the host
};

class Comm;

template <typename A, typename P = A>
class Model {
 public:
  /// `layout` must outlive the model.
  Model(const ParamLayout& layout, OpTable<A, P> ops);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// Training-mode forward; remembers the batch and its activations for backward().
  /// @param[in] params  [layout.size()]
  /// @param[in] x       [ΣN, F] normalised input features
  /// @param[in] offsets [B+1] row offsets of the meshes, offsets[0] = 0
  /// @param[out] y      [ΣN, T]
  void forward(const P* params, const A* x, const std::int64_t* offsets, int B, A* y);

  /// Gradient of the last forward(): grads [layout.size()] += ∂loss/∂params given dy [ΣN, T] =
  /// ∂loss/∂y. Callers zero grads once per step (ops accumulate). params must be those of the
  /// forward() (the A weight copy is made there).
  void backward(const P* params, const A* dy, P* grads);

  /// Inference: same outputs as forward(), no activations kept.
  void infer(const P* params, const A* x, const std::int64_t* offsets, int B, A* y);

  /// infer() from host x [ΣN, F] to host y [ΣN, T], both P (params in the table's memory): staged
  /// through reusable buffers on a device backend (converted to and from A there), direct on the
  /// host. `stages`, when given, receives the time of each stage.
  void infer_host(const P* params, const P* x_host, const std::int64_t* offsets, int B,
                  P* y_host, InferStages* stages = nullptr);

  /// Activation checkpointing per block: training forward() keeps only the residual stream (L+1
  /// [N, C] buffers) and one block's activations, and backward() re-runs each block's forward
  /// just before its backward. About 1/3 more work for about L times less activation memory
  /// (the blocks hold ~31 [N, C] tensors each layer by layer, ~7 with fused MLPs); gradients are
  /// the same bit for bit. Takes effect at the next forward().
  void set_recompute(bool on) { m_recompute = on; }
  bool recompute() const { return m_recompute; }

  /// Point-sharded FLARE (docs/distributed.md): every rank of `comm` (null = off) runs infer() or
  /// forward() on its own slice of the points of each mesh of the same batch (a rank may hold no
  /// points of a mesh), and each block's encode merges its softmax over points across the ranks
  /// (one all-reduce of B·H·M·(D+1) numbers); everything else is per point. Each rank's y is then
  /// its slice of the unsharded y. backward() sums each block's dZ over the ranks (B·H·M·D
  /// numbers) before the encode's backward, so that the parameter gradients of all ranks add up
  /// to the unsharded ones (the caller sums them). Every call is collective: all ranks run it,
  /// with the same number of meshes. Host memory, float.
  void set_point_shards(Comm* comm) { m_shards = comm; }

  /// Bytes currently held in activation and scratch buffers.
  std::int64_t buffer_bytes() const;

  const ParamLayout& layout() const { return m_layout; }
  const OpTable<A, P>& ops() const { return m_ops; }

 private:
  using Buf = Buffer<A>;   // point-sized activations and their gradients
  using PBuf = Buffer<P>;  // statistics and latent-sized tensors
  struct MlpActs {
    // Layer-by-layer path: per hidden layer, pre-activation and state [N, hidden].
    std::vector<Buf> pre, hid;
    // The last forward ran the fused op, which keeps nothing: the fused backward recomputes.
    bool fused = false;
  };
  struct BlockActs {
    Buf ln1;
    PBuf mean1, rstd1;
    MlpActs k_mlp, kd_mlp, v_mlp, f_mlp;
    Buf k, kd, v;          // [N, C] projections
    Buf kn, kdn;           // qk_norm: normalised keys [N, C]
    PBuf kmean, krstd;     // qk_norm: key stats [N·H]
    PBuf kdmean, kdrstd;
    PBuf qn, qmean, qrstd; // qk_norm: normalised latents [H·M·D], stats [H·M]
    PBuf z, lse_enc;       // [B, H, M, D], [B, H, M]
    Buf y;                 // [N, C]
    PBuf lse_dec;          // [N, H]
    Buf xmid;              // x + mixer(LN1(x))
    Buf ln2;
    PBuf mean2, rstd2;
    Buf tmp;               // output projection before the residual add (unfused path only)
  };
  struct Grads {
    Buf dx_a, dx_b, dxmid, dln1, dln2, dy, dkn, dkdn, dk, dkd, dv, dh, da, dlnf;
    PBuf dz, dqn;
    std::vector<Buf> mlp_hid, mlp_da;  // the fused MLP backward's scratch, one MLP at a time
  };

  template <typename U>
  void ensure(Buffer<U>& b, std::int64_t n) { b.ensure(m_ops.mem, n, "model activations"); }
  template <typename U>
  void zero(Buffer<U>& b, std::int64_t n) { b.zero(n); }
  void copy(const A* src, std::int64_t n, A* dst) {
    if (n > 0) m_ops.mem.copy(m_ops.mem.ctx, dst, src, std::size_t(n) * sizeof(A));
  }
  /// The weights as the linear ops read them: params itself when A = P, else the A copy.
  const A* weights(const P* params);
  /// y [n] = gelu(pre) (+ res when res is not null): fused where the table has gelu_add_fwd.
  void gelu_residual(const A* pre, const A* res, A* y, std::int64_t n) {
    if (res && m_ops.gelu_add_fwd) return m_ops.gelu_add_fwd(m_ops.ctx, pre, res, y, n);
    m_ops.gelu_fwd(m_ops.ctx, pre, y, n);
    if (res) m_ops.add(m_ops.ctx, y, res, y, n);
  }
  void resize(std::int64_t N, int B, bool train);
  void resize_mlp(MlpActs& a, const MlpSlots& s, std::int64_t N);
  /// The fused ops' view of one MLP: weights, biases, and the gradient slots of G when given.
  MlpOp<A, P> mlp_op(const MlpSlots& s, const P* Pp, P* G) const;
  /// Slot i of op (weights, biases when Pp is given, gradient slots of G when given) from fc.
  void put_linear(MlpOp<A, P>& op, int i, const LinearSlot& fc, const P* Pp, P* G) const;
  /// out = mlp(x) (+ residual when given), fused where the table can (keeping nothing: a.fused)
  /// and otherwise layer by layer (keeping each hidden layer's pre-activation and state in `a`).
  /// mlp_bwd needs x again either way.
  void mlp_fwd(const MlpSlots& s, const P* Pp, const A* x, std::int64_t N, MlpActs& a, A* out,
               const A* residual = nullptr);
  /// One Linear as the fused MLP ops see it (layers = -1), for the mixer's output projection.
  MlpOp<A, P> linear_op(const LinearSlot& fc, const P* Pp, P* G, int in, int out) const;
  void mlp_bwd(const MlpSlots& s, const P* Pp, const A* x, std::int64_t N, MlpActs& a,
               const A* dout, A* dx, P* G);
  void block_fwd(const BlockSlots& s, const P* Pp, const A* xin, BlockActs& a, A* xout);
  void block_bwd(const BlockSlots& s, const P* Pp, const A* xin, BlockActs& a, const A* dxout,
                 A* dxin, P* G);
  void run(const P* params, const A* x, const std::int64_t* offsets, int B, A* y, bool train);

  const ParamLayout& m_layout;
  OpTable<A, P> m_ops;
  // The batch of the last forward(): offsets on the host and where the ops read them.
  std::vector<std::int64_t> m_offsets;
  Buffer<std::int64_t> m_offsets_ops;
  BatchView m_batch;
  int m_B = 0;
  std::int64_t m_N = 0;
  bool m_have_train_forward = false;
  bool m_recompute = false;          // set_recompute()
  Comm* m_shards = nullptr;          // set_point_shards()
  bool m_forward_recomputes = false; // the mode of the last training forward()
  // The weights of the last forward()/infer() in A (A != P only) and where the ops read them.
  Buf m_wcopy;
  const A* m_w = nullptr;
  // Activations: per block in training, slot 0 reused by every block in inference and when
  // recomputing.
  Buf m_x;                         // copy of the input [N, F]
  MlpActs m_in_acts, m_out_acts;
  std::vector<Buf> m_stream;       // residual stream: L+1 buffers (train) or 2 (inference)
  std::vector<BlockActs> m_blocks;
  Buf m_lnf;                       // final LayerNorm
  PBuf m_meanf, m_rstdf;
  Grads m_g;
  Buf m_io_x, m_io_y;  // infer_host staging on device backends
  PBuf m_io_xp;        // infer_host: P input before the cast to A (A != P)
  std::vector<A> m_io_host;  // infer_host: A output on the host before the conversion to P
};

extern template class Model<float>;
extern template class Model<double>;
extern template class Model<Bf16, float>;

}  // namespace flare::surrogate
