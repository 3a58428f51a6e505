#include "surrogate/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <type_traits>

#include "common/error.h"
#include "surrogate/comm.h"

namespace flare::surrogate {

template <typename A, typename P>
Model<A, P>::Model(const ParamLayout& layout, OpTable<A, P> ops) : m_layout(layout), m_ops(ops) {}

template <typename A, typename P>
const A* Model<A, P>::weights(const P* params) {
  if constexpr (std::is_same_v<A, P>) {
    return params;
  } else {
    // The whole flat vector is cast (~0.6M values for the default model, one kernel) so that
    // every weight keeps its ParamLayout offset; the bias and norm entries of the copy go unused.
    const std::int64_t n = m_layout.size();
    ensure(m_wcopy, n);
    FLARE_CHECK(m_ops.cast_to_act, "Model: the op table has no cast_to_act for its A != P");
    m_ops.cast_to_act(m_ops.ctx, params, m_wcopy.data(), n);
    return m_wcopy.data();
  }
}

template <typename A, typename P>
void Model<A, P>::resize_mlp(MlpActs& a, const MlpSlots& s, std::int64_t N) {
  const int n_hidden = s.shape.layers == -1 ? 0 : s.shape.layers + 1;
  a.pre.resize(n_hidden);
  a.hid.resize(n_hidden);
  for (int i = 0; i < n_hidden; ++i) {
    ensure(a.pre[i], N * s.shape.hidden);
    ensure(a.hid[i], N * s.shape.hidden);
  }
}

template <typename A, typename P>
void Model<A, P>::resize(std::int64_t N, int B, bool train) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const int L = c.num_blocks;
  ensure(m_x, N * c.in_dim);
  m_stream.resize(std::max<std::size_t>(m_stream.size(), train ? L + 1 : 2));
  for (auto& s : m_stream) ensure(s, N * C);
  // Inference and recomputation reuse one block's buffers for every block (none when L = 0).
  const std::size_t n_block_acts =
      train && !m_recompute ? std::size_t(L) : std::size_t(std::min(L, 1));
  m_blocks.resize(std::max(m_blocks.size(), n_block_acts));
  for (std::size_t l = 0; l < n_block_acts; ++l) {
    BlockActs& a = m_blocks[l];
    for (Buf* b : {&a.ln1, &a.k, &a.v, &a.y, &a.xmid, &a.ln2}) ensure(*b, N * C);
    for (PBuf* b : {&a.mean1, &a.rstd1, &a.mean2, &a.rstd2}) ensure(*b, N);
    if (c.separate_decode_keys) {
      ensure(a.kd, N * C);
    }
    if (c.qk_norm) {
      ensure(a.kn, N * C);
      ensure(a.kmean, N * H);
      ensure(a.krstd, N * H);
      if (c.separate_decode_keys) {
        ensure(a.kdn, N * C);
        ensure(a.kdmean, N * H);
        ensure(a.kdrstd, N * H);
      }
      ensure(a.qn, std::int64_t(H) * M * D);
      ensure(a.qmean, std::int64_t(H) * M);
      ensure(a.qrstd, std::int64_t(H) * M);
    }
    ensure(a.z, std::int64_t(B) * H * M * D);
    ensure(a.lse_enc, std::int64_t(B) * H * M);
    ensure(a.lse_dec, N * H);
  }
  if (c.out_proj_norm) {
    ensure(m_lnf, N * C);
    ensure(m_meanf, N);
    ensure(m_rstdf, N);
  }
}

template <typename A, typename P>
void Model<A, P>::put_linear(MlpOp<A, P>& op, int i, const LinearSlot& fc, const P* Pp,
                             P* G) const {
  op.W[i] = m_w + fc.weight;
  op.b[i] = Pp && fc.bias >= 0 ? Pp + fc.bias : nullptr;
  if (G) {
    op.dW[i] = G + fc.weight;
    op.db[i] = fc.bias >= 0 ? G + fc.bias : nullptr;
  }
}

template <typename A, typename P>
MlpOp<A, P> Model<A, P>::mlp_op(const MlpSlots& s, const P* Pp, P* G) const {
  const MlpShape& sh = s.shape;
  MlpOp<A, P> op;
  op.in = sh.in, op.hidden = sh.hidden, op.out = sh.out, op.layers = sh.layers;
  op.input_residual = sh.input_residual, op.output_residual = sh.output_residual;
  put_linear(op, 0, s.fc1, Pp, G);
  for (int i = 0; i < sh.layers; ++i) put_linear(op, i + 1, s.fcs[i], Pp, G);
  put_linear(op, sh.layers + 1, s.fc2, Pp, G);
  return op;
}

template <typename A, typename P>
void Model<A, P>::mlp_fwd(const MlpSlots& s, const P* Pp, const A* x, std::int64_t N, MlpActs& a,
                          A* out, const A* residual) {
  const MlpShape& sh = s.shape;
  if (sh.layers == -1) {
    m_ops.linear_fwd(m_ops.ctx, x, m_w + s.fc1.weight, Pp + s.fc1.bias, out, N, sh.in, sh.out);
    if (sh.output_residual) m_ops.add(m_ops.ctx, out, x, out, N * sh.out);
    if (residual) m_ops.add(m_ops.ctx, out, residual, out, N * sh.out);
    return;
  }
  if (m_ops.residual_mlp_fwd && sh.layers + 2 <= MlpOp<A, P>::kMaxLinear) {
    MlpOp<A, P> op = mlp_op(s, Pp, nullptr);
    op.residual = residual;
    a.fused = m_ops.residual_mlp_fwd(m_ops.ctx, op, x, out, N);
    if (a.fused) return;
  }
  // The per-layer buffers exist only where the layer-by-layer path writes them.
  resize_mlp(a, s, N);
  const std::int64_t nh = N * sh.hidden;
  m_ops.linear_fwd(m_ops.ctx, x, m_w + s.fc1.weight, Pp + s.fc1.bias, a.pre[0].data(), N, sh.in,
                   sh.hidden);
  gelu_residual(a.pre[0].data(), sh.input_residual ? x : nullptr, a.hid[0].data(), nh);
  for (int i = 0; i < sh.layers; ++i) {
    const LinearSlot& fc = s.fcs[i];
    m_ops.linear_fwd(m_ops.ctx, a.hid[i].data(), m_w + fc.weight, Pp + fc.bias, a.pre[i + 1].data(),
                     N, sh.hidden, sh.hidden);
    gelu_residual(a.pre[i + 1].data(), a.hid[i].data(), a.hid[i + 1].data(), nh);
  }
  const A* last = a.hid[sh.layers].data();
  m_ops.linear_fwd(m_ops.ctx, last, m_w + s.fc2.weight, Pp + s.fc2.bias, out, N, sh.hidden, sh.out);
  if (sh.output_residual) m_ops.add(m_ops.ctx, out, last, out, N * sh.out);
  if (residual) m_ops.add(m_ops.ctx, out, residual, out, N * sh.out);
}

template <typename A, typename P>
MlpOp<A, P> Model<A, P>::linear_op(const LinearSlot& fc, const P* Pp, P* G, int in, int out) const {
  MlpOp<A, P> op;
  op.in = in, op.hidden = out, op.out = out, op.layers = -1;
  put_linear(op, 0, fc, Pp, G);
  return op;
}

template <typename A, typename P>
void Model<A, P>::mlp_bwd(const MlpSlots& s, const P* Pp, const A* x, std::int64_t N, MlpActs& a,
                          const A* dout, A* dx, P* G) {
  const MlpShape& sh = s.shape;
  if (sh.layers == -1) {
    m_ops.linear_bwd(m_ops.ctx, x, m_w + s.fc1.weight, dout, dx, G + s.fc1.weight, G + s.fc1.bias,
                     N, sh.in, sh.out);
    if (sh.output_residual && dx) m_ops.add(m_ops.ctx, dx, dout, dx, N * sh.out);
    return;
  }
  const std::int64_t nh = N * sh.hidden;
  if (a.fused) {
    // One MLP's scratch at a time, grown to the deepest and widest MLP once.
    MlpOp<A, P> op = mlp_op(s, Pp, G);
    if (m_g.mlp_hid.size() < std::size_t(sh.layers + 1)) {
      m_g.mlp_hid.resize(sh.layers + 1);
      m_g.mlp_da.resize(sh.layers + 1);
    }
    for (int i = 0; i <= sh.layers; ++i) {
      ensure(m_g.mlp_hid[i], nh);
      ensure(m_g.mlp_da[i], nh);
      op.hid[i] = m_g.mlp_hid[i].data();
      op.da[i] = m_g.mlp_da[i].data();
    }
    FLARE_CHECK(m_ops.residual_mlp_bwd && m_ops.residual_mlp_bwd(m_ops.ctx, op, x, dout, dx, N),
                "Model: the fused MLP backward declined an MLP that the fused forward ran (in ",
                sh.in, ", hidden ", sh.hidden, ", out ", sh.out, ", layers ", sh.layers, ")");
    return;
  }
  Buf& dh = m_g.dh;  // ∂loss/∂hid[i], updated in place from the last layer down
  Buf& da = m_g.da;  // ∂loss/∂pre[i]
  // Only the layer-by-layer path needs them (and grows them to the widest MLP once).
  ensure(dh, nh);
  ensure(da, nh);
  if (sh.output_residual)
    copy(dout, nh, dh.data());
  else
    zero(dh, nh);
  m_ops.linear_bwd(m_ops.ctx, a.hid[sh.layers].data(), m_w + s.fc2.weight, dout, dh.data(),
                   G + s.fc2.weight, G + s.fc2.bias, N, sh.hidden, sh.out);
  // hid[i+1] = hid[i] + gelu(pre[i+1]): the residual passes dh through unchanged, the branch adds.
  for (int i = sh.layers - 1; i >= 0; --i) {
    const LinearSlot& fc = s.fcs[i];
    zero(da, nh);
    m_ops.gelu_bwd(m_ops.ctx, a.pre[i + 1].data(), dh.data(), da.data(), nh);
    m_ops.linear_bwd(m_ops.ctx, a.hid[i].data(), m_w + fc.weight, da.data(), dh.data(),
                     G + fc.weight, G + fc.bias, N, sh.hidden, sh.hidden);
  }
  zero(da, nh);
  m_ops.gelu_bwd(m_ops.ctx, a.pre[0].data(), dh.data(), da.data(), nh);
  m_ops.linear_bwd(m_ops.ctx, x, m_w + s.fc1.weight, da.data(), dx, G + s.fc1.weight,
                   G + s.fc1.bias, N, sh.in, sh.hidden);
  if (sh.input_residual && dx) m_ops.add(m_ops.ctx, dx, dh.data(), dx, nh);
}

template <typename A, typename P>
void Model<A, P>::block_fwd(const BlockSlots& s, const P* Pp, const A* xin, BlockActs& a,
                            A* xout) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const std::int64_t N = m_N;
  const P eps = P(c.layernorm_eps), scale = P(c.scale());
  m_ops.layernorm_fwd(m_ops.ctx, xin, Pp + s.norm1.weight, Pp + s.norm1.bias, a.ln1.data(),
                      a.mean1.data(), a.rstd1.data(), N, C, eps);
  mlp_fwd(s.k_proj, Pp, a.ln1.data(), N, a.k_mlp, a.k.data());
  if (c.separate_decode_keys)
    mlp_fwd(s.k_dec_proj, Pp, a.ln1.data(), N, a.kd_mlp, a.kd.data());
  mlp_fwd(s.v_proj, Pp, a.ln1.data(), N, a.v_mlp, a.v.data());

  const P* Q = Pp + s.latent_q;  // [C, M] memory read as [H, M, D], as FLARE.py's .view
  const A* k_enc = a.k.data();
  const A* k_dec = c.separate_decode_keys ? a.kd.data() : a.k.data();
  if (c.qk_norm) {
    // LayerNorm over D: rows are (h, m) of Q and (n, h) of K, contiguous in both layouts.
    m_ops.latent_layernorm_fwd(m_ops.ctx, Q, Pp + s.q_norm.weight, Pp + s.q_norm.bias, a.qn.data(),
                               a.qmean.data(), a.qrstd.data(), std::int64_t(H) * M, D, eps);
    m_ops.layernorm_fwd(m_ops.ctx, a.k.data(), Pp + s.k_norm.weight, Pp + s.k_norm.bias,
                        a.kn.data(), a.kmean.data(), a.krstd.data(), N * H, D, eps);
    Q = a.qn.data();
    k_enc = a.kn.data();
    k_dec = k_enc;
    if (c.separate_decode_keys) {
      m_ops.layernorm_fwd(m_ops.ctx, a.kd.data(), Pp + s.k_norm.weight, Pp + s.k_norm.bias,
                          a.kdn.data(), a.kdmean.data(), a.kdrstd.data(), N * H, D, eps);
      k_dec = a.kdn.data();
    }
  }
  m_ops.flare_encode_fwd(m_ops.ctx, Q, k_enc, a.v.data(), m_batch, H, M, D, scale, a.z.data(),
                         a.lse_enc.data());
  if (m_shards) {
    // The encode is the only step that mixes points: this rank's (lse, Z) over its points of each
    // mesh merge with the other ranks' into those over all the mesh's points.
    if constexpr (std::is_same_v<P, float>) {
      FLARE_CHECK(m_ops.mem.host, "point-sharded FLARE runs in host memory");
      m_shards->allreduce_softmax(a.lse_enc.data(), a.z.data(), std::int64_t(m_B) * H * M, D);
    } else {
      FLARE_CHECK(false, "point-sharded FLARE runs in float");
    }
  }
  m_ops.flare_decode_fwd(m_ops.ctx, Q, k_dec, a.z.data(), m_batch, H, M, D, scale, a.y.data(),
                         a.lse_dec.data());
  // x_mid = x_in + out_proj(Y): one fused pass where the table has the MLP op.
  MlpOp<A, P> proj = linear_op(s.out_proj, Pp, nullptr, C, C);
  proj.residual = xin;
  if (!m_ops.residual_mlp_fwd || !m_ops.residual_mlp_fwd(m_ops.ctx, proj, a.y.data(), a.xmid.data(), N)) {
    ensure(a.tmp, N * C);
    m_ops.linear_fwd(m_ops.ctx, a.y.data(), m_w + s.out_proj.weight, Pp + s.out_proj.bias,
                     a.tmp.data(), N, C, C);
    m_ops.add(m_ops.ctx, xin, a.tmp.data(), a.xmid.data(), N * C);
  }
  m_ops.layernorm_fwd(m_ops.ctx, a.xmid.data(), Pp + s.norm2.weight, Pp + s.norm2.bias,
                      a.ln2.data(), a.mean2.data(), a.rstd2.data(), N, C, eps);
  mlp_fwd(s.mlp, Pp, a.ln2.data(), N, a.f_mlp, xout, a.xmid.data());
}

template <typename A, typename P>
void Model<A, P>::block_bwd(const BlockSlots& s, const P* Pp, const A* xin, BlockActs& a,
                            const A* dxout, A* dxin, P* G) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const std::int64_t N = m_N, NC = N * C;
  const P scale = P(c.scale());
  const bool sep = c.separate_decode_keys, qkn = c.qk_norm;
  Grads& g = m_g;

  // x_out = x_mid + ffn(LN2(x_mid))
  copy(dxout, NC, g.dxmid.data());
  zero(g.dln2, NC);
  mlp_bwd(s.mlp, Pp, a.ln2.data(), N, a.f_mlp, dxout, g.dln2.data(), G);
  m_ops.layernorm_bwd(m_ops.ctx, a.xmid.data(), Pp + s.norm2.weight, a.mean2.data(), a.rstd2.data(),
                      g.dln2.data(), g.dxmid.data(), G + s.norm2.weight, G + s.norm2.bias, N, C);
  // x_mid = x_in + out_proj(Y)
  zero(g.dy, NC);
  if (!m_ops.residual_mlp_bwd ||
      !m_ops.residual_mlp_bwd(m_ops.ctx, linear_op(s.out_proj, nullptr, G, C, C), a.y.data(),
                              g.dxmid.data(), g.dy.data(), N))
    m_ops.linear_bwd(m_ops.ctx, a.y.data(), m_w + s.out_proj.weight, g.dxmid.data(), g.dy.data(),
                     G + s.out_proj.weight, G + s.out_proj.bias, N, C, C);

  const P* Q = qkn ? a.qn.data() : Pp + s.latent_q;
  const A* k_enc = qkn ? a.kn.data() : a.k.data();
  const A* k_dec = sep ? (qkn ? a.kdn.data() : a.kd.data()) : k_enc;
  // Gradients w.r.t. the (possibly normalised) Q and keys; without qk_norm they land directly in
  // latent_q's gradient and in dk/dkd.
  P* dQ = G + s.latent_q;
  if (qkn) {
    zero(g.dqn, std::int64_t(H) * M * D);
    dQ = g.dqn.data();
  }
  Buf& dk_enc = qkn ? g.dkn : g.dk;
  Buf& dk_dec = sep ? (qkn ? g.dkdn : g.dkd) : dk_enc;
  zero(dk_enc, NC);
  if (sep) zero(dk_dec, NC);
  zero(g.dz, std::int64_t(m_B) * H * M * D);
  zero(g.dv, NC);
  // Sharded: dZ gathers the decode's gradient from every point of the mesh, so this rank's part
  // (from its points) is summed over the ranks before the encode's backward. The encode's only
  // cross-point term, rowsum(dZ∘Z) of the softmax gradient, then comes out right on every rank
  // from the merged Z and the summed dZ; dK and dV stay per point, dQ's shares are summed with the
  // other parameter gradients. The fused mixer backward keeps dZ inside, so it is not used.
  if (m_ops.flare_mixer_bwd && !sep && !m_shards) {
    // One fused pass computes dK of both stages (they share the keys).
    m_ops.flare_mixer_bwd(m_ops.ctx, Q, k_enc, a.v.data(), a.z.data(), a.lse_enc.data(),
                          a.lse_dec.data(), g.dy.data(), m_batch, H, M, D, scale, dQ, dk_enc.data(),
                          g.dv.data(), g.dz.data());
  } else {
    m_ops.flare_decode_bwd(m_ops.ctx, Q, k_dec, a.z.data(), a.y.data(), a.lse_dec.data(),
                           g.dy.data(), m_batch, H, M, D, scale, dQ, dk_dec.data(), g.dz.data());
    if (m_shards) {
      if constexpr (std::is_same_v<P, float>)
        m_shards->allreduce_sum(g.dz.data(), std::int64_t(m_B) * H * M * D, m_ops.mem);
      else
        FLARE_CHECK(false, "point-sharded FLARE runs in float");
    }
    m_ops.flare_encode_bwd(m_ops.ctx, Q, k_enc, a.v.data(), a.z.data(), a.lse_enc.data(),
                           g.dz.data(), m_batch, H, M, D, scale, dQ, dk_enc.data(), g.dv.data());
  }
  if (qkn) {
    m_ops.latent_layernorm_bwd(m_ops.ctx, Pp + s.latent_q, Pp + s.q_norm.weight, a.qmean.data(),
                               a.qrstd.data(), g.dqn.data(), G + s.latent_q, G + s.q_norm.weight,
                               G + s.q_norm.bias, std::int64_t(H) * M, D);
    zero(g.dk, NC);
    m_ops.layernorm_bwd(m_ops.ctx, a.k.data(), Pp + s.k_norm.weight, a.kmean.data(), a.krstd.data(),
                        g.dkn.data(), g.dk.data(), G + s.k_norm.weight, G + s.k_norm.bias, N * H,
                        D);
    if (sep) {
      zero(g.dkd, NC);
      m_ops.layernorm_bwd(m_ops.ctx, a.kd.data(), Pp + s.k_norm.weight, a.kdmean.data(),
                          a.kdrstd.data(), g.dkdn.data(), g.dkd.data(), G + s.k_norm.weight,
                          G + s.k_norm.bias, N * H, D);
    }
  }
  zero(g.dln1, NC);
  mlp_bwd(s.k_proj, Pp, a.ln1.data(), N, a.k_mlp, g.dk.data(), g.dln1.data(), G);
  if (sep) mlp_bwd(s.k_dec_proj, Pp, a.ln1.data(), N, a.kd_mlp, g.dkd.data(), g.dln1.data(), G);
  mlp_bwd(s.v_proj, Pp, a.ln1.data(), N, a.v_mlp, g.dv.data(), g.dln1.data(), G);
  // x_mid = x_in + mixer(LN1(x_in))
  copy(g.dxmid.data(), NC, dxin);
  m_ops.layernorm_bwd(m_ops.ctx, xin, Pp + s.norm1.weight, a.mean1.data(), a.rstd1.data(),
                      g.dln1.data(), dxin, G + s.norm1.weight, G + s.norm1.bias, N, C);
}

template <typename A, typename P>
void Model<A, P>::run(const P* params, const A* x, const std::int64_t* offsets, int B, A* y,
                      bool train) {
  const ModelConfig& c = m_layout.config();
  FLARE_CHECK(B >= 1 && offsets && offsets[0] == 0,
              "Model: need B >= 1 meshes with offsets[0] = 0");
  for (int b = 0; b < B; ++b)
    FLARE_CHECK(offsets[b + 1] >= offsets[b], "Model: offsets must be non-decreasing (mesh ", b,
                ")");
  m_B = B;
  m_N = offsets[B];
  m_offsets.assign(offsets, offsets + B + 1);
  m_offsets_ops.ensure(m_ops.mem, B + 1, "batch offsets");
  m_offsets_ops.upload(offsets, B + 1);
  m_batch.offsets = m_offsets_ops.data();
  m_batch.B = B;
  m_batch.total_points = m_N;
  m_batch.max_points = 0;
  for (int b = 0; b < B; ++b)
    m_batch.max_points = std::max(m_batch.max_points, offsets[b + 1] - offsets[b]);
  const std::int64_t N = m_N;
  resize(N, B, train);
  if (train) copy(x, N * c.in_dim, m_x.data());
  const P* Pp = params;
  m_w = weights(params);
  mlp_fwd(m_layout.in_proj, Pp, x, N, m_in_acts, m_stream[0].data());
  for (int l = 0; l < c.num_blocks; ++l) {
    const A* xin = m_stream[train ? l : l % 2].data();
    A* xout = m_stream[train ? l + 1 : (l + 1) % 2].data();
    // A recomputing forward keeps only the residual stream: the backward re-runs each block.
    const bool keep = train && !m_recompute;
    block_fwd(m_layout.blocks[l], Pp, xin, m_blocks[keep ? l : 0], xout);
  }
  const A* h = m_stream[train ? c.num_blocks : c.num_blocks % 2].data();
  if (c.out_proj_norm) {
    m_ops.layernorm_fwd(m_ops.ctx, h, Pp + m_layout.out_norm.weight, Pp + m_layout.out_norm.bias,
                        m_lnf.data(), m_meanf.data(), m_rstdf.data(), N, c.channel_dim,
                        P(c.layernorm_eps));
    h = m_lnf.data();
  }
  mlp_fwd(m_layout.out_mlp, Pp, h, N, m_out_acts, y);
  m_have_train_forward = train;
  m_forward_recomputes = m_recompute;
}

template <typename A, typename P>
void Model<A, P>::forward(const P* params, const A* x, const std::int64_t* offsets, int B, A* y) {
  run(params, x, offsets, B, y, true);
}

template <typename A, typename P>
void Model<A, P>::infer(const P* params, const A* x, const std::int64_t* offsets, int B, A* y) {
  run(params, x, offsets, B, y, false);
}

template <typename A, typename P>
void Model<A, P>::infer_host(const P* params, const P* x_host, const std::int64_t* offsets, int B,
                             P* y_host, InferStages* stages) {
  using Clock = std::chrono::steady_clock;
  auto t = Clock::now();
  // Adds the seconds since the last lap to `slot` (a no-op without `stages`).
  auto lap = [&](double InferStages::*slot) {
    if (!stages) return;
    const auto now = Clock::now();
    stages->*slot += std::chrono::duration<double>(now - t).count();
    t = now;
  };
  const ModelConfig& c = m_layout.config();
  const std::int64_t N = offsets[B], nx = N * c.in_dim, ny = N * c.out_dim;
  if constexpr (std::is_same_v<A, P>) {
    if (m_ops.mem.host) {
      infer(params, x_host, offsets, B, y_host);
      lap(&InferStages::model);
      return;
    }
    ensure(m_io_x, nx);
    ensure(m_io_y, ny);
    m_io_x.upload(x_host, nx);
    if (stages) m_ops.mem.synchronize(m_ops.mem.ctx);
    lap(&InferStages::upload);
    infer(params, m_io_x.data(), offsets, B, m_io_y.data());
    if (stages) m_ops.mem.synchronize(m_ops.mem.ctx);
    lap(&InferStages::model);
    m_io_y.download(y_host, ny);
    lap(&InferStages::download);
  } else {
    // The input is cast on the device (the same rounding as the weight copy); the small [N, T]
    // output comes back in A and widens exactly on the host.
    ensure(m_io_xp, nx);
    ensure(m_io_x, nx);
    ensure(m_io_y, ny);
    m_io_xp.upload(x_host, nx);
    m_ops.cast_to_act(m_ops.ctx, m_io_xp.data(), m_io_x.data(), nx);
    if (stages) m_ops.mem.synchronize(m_ops.mem.ctx);
    lap(&InferStages::upload);
    infer(params, m_io_x.data(), offsets, B, m_io_y.data());
    if (stages) m_ops.mem.synchronize(m_ops.mem.ctx);
    lap(&InferStages::model);
    m_io_host.resize(std::size_t(ny));
    m_io_y.download(m_io_host.data(), ny);
    for (std::int64_t i = 0; i < ny; ++i) y_host[i] = P(to_float(m_io_host[std::size_t(i)]));
    lap(&InferStages::download);
  }
}

template <typename A, typename P>
void Model<A, P>::backward(const P* params, const A* dy, P* grads) {
  FLARE_CHECK(m_have_train_forward, "Model::backward needs a training forward() first");
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, L = c.num_blocks;
  const std::int64_t N = m_N, NC = N * C;
  const P* Pp = params;
  Grads& g = m_g;
  for (Buf* b : {&g.dx_a, &g.dx_b, &g.dxmid, &g.dln1, &g.dln2, &g.dy, &g.dk, &g.dv, &g.dlnf})
    ensure(*b, NC);
  if (c.separate_decode_keys) ensure(g.dkd, NC);
  if (c.qk_norm) {
    ensure(g.dkn, NC);
    if (c.separate_decode_keys) ensure(g.dkdn, NC);
    ensure(g.dqn, std::int64_t(C) * c.num_latents);
  }
  ensure(g.dz, std::int64_t(m_B) * C * c.num_latents);

  const A* h = c.out_proj_norm ? m_lnf.data() : m_stream[L].data();
  A* dx = g.dx_a.data();
  A* dx_other = g.dx_b.data();
  zero(g.dx_a, NC);
  if (c.out_proj_norm) {
    zero(g.dlnf, NC);
    mlp_bwd(m_layout.out_mlp, Pp, h, N, m_out_acts, dy, g.dlnf.data(), grads);
    m_ops.layernorm_bwd(m_ops.ctx, m_stream[L].data(), Pp + m_layout.out_norm.weight,
                        m_meanf.data(), m_rstdf.data(), g.dlnf.data(), dx,
                        grads + m_layout.out_norm.weight, grads + m_layout.out_norm.bias, N, C);
  } else {
    mlp_bwd(m_layout.out_mlp, Pp, h, N, m_out_acts, dy, dx, grads);
  }
  for (int l = L - 1; l >= 0; --l) {
    // Recomputing rewrites stream[l+1] with the values it already holds (same ops, same order),
    // and that buffer is not read again.
    if (m_forward_recomputes)
      block_fwd(m_layout.blocks[l], Pp, m_stream[l].data(), m_blocks[0], m_stream[l + 1].data());
    block_bwd(m_layout.blocks[l], Pp, m_stream[l].data(), m_blocks[m_forward_recomputes ? 0 : l],
              dx, dx_other, grads);
    std::swap(dx, dx_other);
  }
  // The input features need no gradient.
  mlp_bwd(m_layout.in_proj, Pp, m_x.data(), N, m_in_acts, dx, nullptr, grads);
}

template <typename A, typename P>
std::int64_t Model<A, P>::buffer_bytes() const {
  std::int64_t total = m_x.bytes() + m_lnf.bytes() + m_meanf.bytes() + m_rstdf.bytes() +
                       m_io_x.bytes() + m_io_y.bytes() + m_io_xp.bytes() + m_wcopy.bytes();
  auto mlp = [&](const MlpActs& a) {
    for (const auto& b : a.pre) total += b.bytes();
    for (const auto& b : a.hid) total += b.bytes();
  };
  mlp(m_in_acts);
  mlp(m_out_acts);
  for (const auto& s : m_stream) total += s.bytes();
  for (const auto& a : m_blocks) {
    for (const Buf* b : {&a.ln1, &a.k, &a.kd, &a.v, &a.kn, &a.kdn, &a.y, &a.xmid, &a.ln2, &a.tmp})
      total += b->bytes();
    for (const PBuf* b : {&a.mean1, &a.rstd1, &a.kmean, &a.krstd, &a.kdmean, &a.kdrstd, &a.qn,
                          &a.qmean, &a.qrstd, &a.z, &a.lse_enc, &a.lse_dec, &a.mean2, &a.rstd2})
      total += b->bytes();
    mlp(a.k_mlp);
    mlp(a.kd_mlp);
    mlp(a.v_mlp);
    mlp(a.f_mlp);
  }
  const Grads& g = m_g;
  for (const Buf* b : {&g.dx_a, &g.dx_b, &g.dxmid, &g.dln1, &g.dln2, &g.dy, &g.dkn, &g.dkdn, &g.dk,
                       &g.dkd, &g.dv, &g.dh, &g.da, &g.dlnf})
    total += b->bytes();
  for (const auto& b : g.mlp_hid) total += b.bytes();
  for (const auto& b : g.mlp_da) total += b.bytes();
  total += g.dz.bytes() + g.dqn.bytes();
  return total;
}

template class Model<float>;
template class Model<double>;
template class Model<Bf16, float>;

}  // namespace flare::surrogate
