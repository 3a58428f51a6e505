#include "surrogate/model.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace flare::surrogate {

template <typename T>
Model<T>::Model(const ParamLayout& layout, OpTable<T> ops) : m_layout(layout), m_ops(ops) {}

template <typename T>
void Model<T>::resize_mlp(MlpActs& a, const MlpSlots& s, std::int64_t N) {
  const int n_hidden = s.shape.layers == -1 ? 0 : s.shape.layers + 1;
  a.pre.resize(n_hidden);
  a.hid.resize(n_hidden);
  for (int i = 0; i < n_hidden; ++i) {
    ensure(a.pre[i], N * s.shape.hidden);
    ensure(a.hid[i], N * s.shape.hidden);
  }
}

template <typename T>
void Model<T>::resize(std::int64_t N, int B, bool train) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const int L = c.num_blocks;
  ensure(m_x, N * c.in_dim);
  resize_mlp(m_in_acts, m_layout.in_proj, N);
  resize_mlp(m_out_acts, m_layout.out_mlp, N);
  m_stream.resize(std::max<std::size_t>(m_stream.size(), train ? L + 1 : 2));
  for (auto& s : m_stream) ensure(s, N * C);
  // Inference and recomputation reuse one block's buffers for every block (none when L = 0).
  const std::size_t n_block_acts =
      train && !m_recompute ? std::size_t(L) : std::size_t(std::min(L, 1));
  m_blocks.resize(std::max(m_blocks.size(), n_block_acts));
  for (std::size_t l = 0; l < n_block_acts; ++l) {
    const BlockSlots& s = m_layout.blocks[l];
    BlockActs& a = m_blocks[l];
    for (Buf* b : {&a.ln1, &a.k, &a.v, &a.y, &a.xmid, &a.ln2, &a.tmp}) ensure(*b, N * C);
    for (Buf* b : {&a.mean1, &a.rstd1, &a.mean2, &a.rstd2}) ensure(*b, N);
    resize_mlp(a.k_mlp, s.k_proj, N);
    resize_mlp(a.v_mlp, s.v_proj, N);
    resize_mlp(a.f_mlp, s.mlp, N);
    if (c.separate_decode_keys) {
      resize_mlp(a.kd_mlp, s.k_dec_proj, N);
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

template <typename T>
void Model<T>::mlp_fwd(const MlpSlots& s, const T* P, const T* x, std::int64_t N, MlpActs& a,
                       T* out) {
  const MlpShape& sh = s.shape;
  if (sh.layers == -1) {
    m_ops.linear_fwd(m_ops.ctx, x, P + s.fc1.weight, P + s.fc1.bias, out, N, sh.in, sh.out);
    if (sh.output_residual) m_ops.add(m_ops.ctx, out, x, out, N * sh.out);
    return;
  }
  const std::int64_t nh = N * sh.hidden;
  m_ops.linear_fwd(m_ops.ctx, x, P + s.fc1.weight, P + s.fc1.bias, a.pre[0].data(), N, sh.in,
                   sh.hidden);
  m_ops.gelu_fwd(m_ops.ctx, a.pre[0].data(), a.hid[0].data(), nh);
  if (sh.input_residual) m_ops.add(m_ops.ctx, a.hid[0].data(), x, a.hid[0].data(), nh);
  for (int i = 0; i < sh.layers; ++i) {
    const LinearSlot& fc = s.fcs[i];
    m_ops.linear_fwd(m_ops.ctx, a.hid[i].data(), P + fc.weight, P + fc.bias, a.pre[i + 1].data(), N,
                     sh.hidden, sh.hidden);
    m_ops.gelu_fwd(m_ops.ctx, a.pre[i + 1].data(), a.hid[i + 1].data(), nh);
    m_ops.add(m_ops.ctx, a.hid[i + 1].data(), a.hid[i].data(), a.hid[i + 1].data(), nh);
  }
  const T* last = a.hid[sh.layers].data();
  m_ops.linear_fwd(m_ops.ctx, last, P + s.fc2.weight, P + s.fc2.bias, out, N, sh.hidden, sh.out);
  if (sh.output_residual) m_ops.add(m_ops.ctx, out, last, out, N * sh.out);
}

template <typename T>
void Model<T>::mlp_bwd(const MlpSlots& s, const T* P, const T* x, std::int64_t N, MlpActs& a,
                       const T* dout, T* dx, T* G) {
  const MlpShape& sh = s.shape;
  if (sh.layers == -1) {
    m_ops.linear_bwd(m_ops.ctx, x, P + s.fc1.weight, dout, dx, G + s.fc1.weight, G + s.fc1.bias, N,
                     sh.in, sh.out);
    if (sh.output_residual && dx) m_ops.add(m_ops.ctx, dx, dout, dx, N * sh.out);
    return;
  }
  const std::int64_t nh = N * sh.hidden;
  Buf& dh = m_g.dh;  // ∂loss/∂hid[i], updated in place from the last layer down
  Buf& da = m_g.da;  // ∂loss/∂pre[i]
  if (sh.output_residual)
    copy(dout, nh, dh.data());
  else
    zero(dh, nh);
  m_ops.linear_bwd(m_ops.ctx, a.hid[sh.layers].data(), P + s.fc2.weight, dout, dh.data(),
                   G + s.fc2.weight, G + s.fc2.bias, N, sh.hidden, sh.out);
  // hid[i+1] = hid[i] + gelu(pre[i+1]): the residual passes dh through unchanged, the branch adds.
  for (int i = sh.layers - 1; i >= 0; --i) {
    const LinearSlot& fc = s.fcs[i];
    zero(da, nh);
    m_ops.gelu_bwd(m_ops.ctx, a.pre[i + 1].data(), dh.data(), da.data(), nh);
    m_ops.linear_bwd(m_ops.ctx, a.hid[i].data(), P + fc.weight, da.data(), dh.data(), G + fc.weight,
                     G + fc.bias, N, sh.hidden, sh.hidden);
  }
  zero(da, nh);
  m_ops.gelu_bwd(m_ops.ctx, a.pre[0].data(), dh.data(), da.data(), nh);
  m_ops.linear_bwd(m_ops.ctx, x, P + s.fc1.weight, da.data(), dx, G + s.fc1.weight, G + s.fc1.bias,
                   N, sh.in, sh.hidden);
  if (sh.input_residual && dx) m_ops.add(m_ops.ctx, dx, dh.data(), dx, nh);
}

template <typename T>
void Model<T>::block_fwd(const BlockSlots& s, const T* P, const T* xin, BlockActs& a, T* xout) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const std::int64_t N = m_N;
  const T eps = T(c.layernorm_eps), scale = T(c.scale());
  m_ops.layernorm_fwd(m_ops.ctx, xin, P + s.norm1.weight, P + s.norm1.bias, a.ln1.data(),
                      a.mean1.data(), a.rstd1.data(), N, C, eps);
  mlp_fwd(s.k_proj, P, a.ln1.data(), N, a.k_mlp, a.k.data());
  if (c.separate_decode_keys) mlp_fwd(s.k_dec_proj, P, a.ln1.data(), N, a.kd_mlp, a.kd.data());
  mlp_fwd(s.v_proj, P, a.ln1.data(), N, a.v_mlp, a.v.data());

  const T* Q = P + s.latent_q;  // [C, M] memory read as [H, M, D], as FLARE.py's .view
  const T* k_enc = a.k.data();
  const T* k_dec = c.separate_decode_keys ? a.kd.data() : a.k.data();
  if (c.qk_norm) {
    // LayerNorm over D: rows are (h, m) of Q and (n, h) of K, contiguous in both layouts.
    m_ops.layernorm_fwd(m_ops.ctx, Q, P + s.q_norm.weight, P + s.q_norm.bias, a.qn.data(),
                        a.qmean.data(), a.qrstd.data(), std::int64_t(H) * M, D, eps);
    m_ops.layernorm_fwd(m_ops.ctx, a.k.data(), P + s.k_norm.weight, P + s.k_norm.bias, a.kn.data(),
                        a.kmean.data(), a.krstd.data(), N * H, D, eps);
    Q = a.qn.data();
    k_enc = a.kn.data();
    k_dec = k_enc;
    if (c.separate_decode_keys) {
      m_ops.layernorm_fwd(m_ops.ctx, a.kd.data(), P + s.k_norm.weight, P + s.k_norm.bias,
                          a.kdn.data(), a.kdmean.data(), a.kdrstd.data(), N * H, D, eps);
      k_dec = a.kdn.data();
    }
  }
  m_ops.flare_encode_fwd(m_ops.ctx, Q, k_enc, a.v.data(), m_batch, H, M, D, scale, a.z.data(),
                         a.lse_enc.data());
  m_ops.flare_decode_fwd(m_ops.ctx, Q, k_dec, a.z.data(), m_batch, H, M, D, scale, a.y.data(),
                         a.lse_dec.data());
  m_ops.linear_fwd(m_ops.ctx, a.y.data(), P + s.out_proj.weight, P + s.out_proj.bias, a.tmp.data(),
                   N, C, C);
  m_ops.add(m_ops.ctx, xin, a.tmp.data(), a.xmid.data(), N * C);
  m_ops.layernorm_fwd(m_ops.ctx, a.xmid.data(), P + s.norm2.weight, P + s.norm2.bias, a.ln2.data(),
                      a.mean2.data(), a.rstd2.data(), N, C, eps);
  mlp_fwd(s.mlp, P, a.ln2.data(), N, a.f_mlp, a.tmp.data());
  m_ops.add(m_ops.ctx, a.xmid.data(), a.tmp.data(), xout, N * C);
}

template <typename T>
void Model<T>::block_bwd(const BlockSlots& s, const T* P, const T* xin, BlockActs& a,
                         const T* dxout, T* dxin, T* G) {
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, H = c.num_heads, M = c.num_latents, D = c.head_dim();
  const std::int64_t N = m_N, NC = N * C;
  const T scale = T(c.scale());
  const bool sep = c.separate_decode_keys, qkn = c.qk_norm;
  Grads& g = m_g;

  // x_out = x_mid + ffn(LN2(x_mid))
  copy(dxout, NC, g.dxmid.data());
  zero(g.dln2, NC);
  mlp_bwd(s.mlp, P, a.ln2.data(), N, a.f_mlp, dxout, g.dln2.data(), G);
  m_ops.layernorm_bwd(m_ops.ctx, a.xmid.data(), P + s.norm2.weight, a.mean2.data(), a.rstd2.data(),
                      g.dln2.data(), g.dxmid.data(), G + s.norm2.weight, G + s.norm2.bias, N, C);
  // x_mid = x_in + out_proj(Y)
  zero(g.dy, NC);
  m_ops.linear_bwd(m_ops.ctx, a.y.data(), P + s.out_proj.weight, g.dxmid.data(), g.dy.data(),
                   G + s.out_proj.weight, G + s.out_proj.bias, N, C, C);

  const T* Q = qkn ? a.qn.data() : P + s.latent_q;
  const T* k_enc = qkn ? a.kn.data() : a.k.data();
  const T* k_dec = sep ? (qkn ? a.kdn.data() : a.kd.data()) : k_enc;
  // Gradients w.r.t. the (possibly normalised) Q and keys; without qk_norm they land directly in
  // latent_q's gradient and in dk/dkd.
  T* dQ = G + s.latent_q;
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
  if (m_ops.flare_mixer_bwd && !sep) {
    // One fused pass computes dK of both stages (they share the keys).
    m_ops.flare_mixer_bwd(m_ops.ctx, Q, k_enc, a.v.data(), a.z.data(), a.lse_enc.data(),
                          a.lse_dec.data(), g.dy.data(), m_batch, H, M, D, scale, dQ, dk_enc.data(),
                          g.dv.data(), g.dz.data());
  } else {
    m_ops.flare_decode_bwd(m_ops.ctx, Q, k_dec, a.z.data(), a.y.data(), a.lse_dec.data(),
                           g.dy.data(), m_batch, H, M, D, scale, dQ, dk_dec.data(), g.dz.data());
    m_ops.flare_encode_bwd(m_ops.ctx, Q, k_enc, a.v.data(), a.z.data(), a.lse_enc.data(),
                           g.dz.data(), m_batch, H, M, D, scale, dQ, dk_enc.data(), g.dv.data());
  }
  if (qkn) {
    m_ops.layernorm_bwd(m_ops.ctx, P + s.latent_q, P + s.q_norm.weight, a.qmean.data(),
                        a.qrstd.data(), g.dqn.data(), G + s.latent_q, G + s.q_norm.weight,
                        G + s.q_norm.bias, std::int64_t(H) * M, D);
    zero(g.dk, NC);
    m_ops.layernorm_bwd(m_ops.ctx, a.k.data(), P + s.k_norm.weight, a.kmean.data(), a.krstd.data(),
                        g.dkn.data(), g.dk.data(), G + s.k_norm.weight, G + s.k_norm.bias, N * H,
                        D);
    if (sep) {
      zero(g.dkd, NC);
      m_ops.layernorm_bwd(m_ops.ctx, a.kd.data(), P + s.k_norm.weight, a.kdmean.data(),
                          a.kdrstd.data(), g.dkdn.data(), g.dkd.data(), G + s.k_norm.weight,
                          G + s.k_norm.bias, N * H, D);
    }
  }
  zero(g.dln1, NC);
  mlp_bwd(s.k_proj, P, a.ln1.data(), N, a.k_mlp, g.dk.data(), g.dln1.data(), G);
  if (sep) mlp_bwd(s.k_dec_proj, P, a.ln1.data(), N, a.kd_mlp, g.dkd.data(), g.dln1.data(), G);
  mlp_bwd(s.v_proj, P, a.ln1.data(), N, a.v_mlp, g.dv.data(), g.dln1.data(), G);
  // x_mid = x_in + mixer(LN1(x_in))
  copy(g.dxmid.data(), NC, dxin);
  m_ops.layernorm_bwd(m_ops.ctx, xin, P + s.norm1.weight, a.mean1.data(), a.rstd1.data(),
                      g.dln1.data(), dxin, G + s.norm1.weight, G + s.norm1.bias, N, C);
}

template <typename T>
void Model<T>::run(const T* params, const T* x, const std::int64_t* offsets, int B, T* y,
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
  const T* P = params;
  mlp_fwd(m_layout.in_proj, P, x, N, m_in_acts, m_stream[0].data());
  for (int l = 0; l < c.num_blocks; ++l) {
    const T* xin = m_stream[train ? l : l % 2].data();
    T* xout = m_stream[train ? l + 1 : (l + 1) % 2].data();
    block_fwd(m_layout.blocks[l], P, xin, m_blocks[train && !m_recompute ? l : 0], xout);
  }
  const T* h = m_stream[train ? c.num_blocks : c.num_blocks % 2].data();
  if (c.out_proj_norm) {
    m_ops.layernorm_fwd(m_ops.ctx, h, P + m_layout.out_norm.weight, P + m_layout.out_norm.bias,
                        m_lnf.data(), m_meanf.data(), m_rstdf.data(), N, c.channel_dim,
                        T(c.layernorm_eps));
    h = m_lnf.data();
  }
  mlp_fwd(m_layout.out_mlp, P, h, N, m_out_acts, y);
  m_have_train_forward = train;
  m_forward_recomputes = m_recompute;
}

template <typename T>
void Model<T>::forward(const T* params, const T* x, const std::int64_t* offsets, int B, T* y) {
  run(params, x, offsets, B, y, true);
}

template <typename T>
void Model<T>::infer(const T* params, const T* x, const std::int64_t* offsets, int B, T* y) {
  run(params, x, offsets, B, y, false);
}

template <typename T>
void Model<T>::infer_host(const T* params, const T* x_host, const std::int64_t* offsets, int B,
                          T* y_host) {
  if (m_ops.mem.host) return infer(params, x_host, offsets, B, y_host);
  const ModelConfig& c = m_layout.config();
  const std::int64_t N = offsets[B];
  ensure(m_io_x, N * c.in_dim);
  ensure(m_io_y, N * c.out_dim);
  m_io_x.upload(x_host, N * c.in_dim);
  infer(params, m_io_x.data(), offsets, B, m_io_y.data());
  m_io_y.download(y_host, N * c.out_dim);
}

template <typename T>
void Model<T>::backward(const T* params, const T* dy, T* grads) {
  FLARE_CHECK(m_have_train_forward, "Model::backward needs a training forward() first");
  const ModelConfig& c = m_layout.config();
  const int C = c.channel_dim, L = c.num_blocks;
  const std::int64_t N = m_N, NC = N * C;
  const T* P = params;
  Grads& g = m_g;
  int max_hidden = 0;
  auto widest = [&](const MlpSlots& s) { max_hidden = std::max(max_hidden, s.shape.hidden); };
  widest(m_layout.in_proj);
  widest(m_layout.out_mlp);
  for (const auto& b : m_layout.blocks) {
    widest(b.k_proj);
    widest(b.v_proj);
    widest(b.mlp);
    if (c.separate_decode_keys) widest(b.k_dec_proj);
  }
  max_hidden = std::max(max_hidden, C);
  for (Buf* b : {&g.dx_a, &g.dx_b, &g.dxmid, &g.dln1, &g.dln2, &g.dy, &g.dk, &g.dv, &g.dlnf})
    ensure(*b, NC);
  if (c.separate_decode_keys) ensure(g.dkd, NC);
  if (c.qk_norm) {
    ensure(g.dkn, NC);
    if (c.separate_decode_keys) ensure(g.dkdn, NC);
    ensure(g.dqn, std::int64_t(C) * c.num_latents);
  }
  ensure(g.dz, std::int64_t(m_B) * C * c.num_latents);
  ensure(g.dh, N * max_hidden);
  ensure(g.da, N * max_hidden);

  const T* h = c.out_proj_norm ? m_lnf.data() : m_stream[L].data();
  T* dx = g.dx_a.data();
  T* dx_other = g.dx_b.data();
  zero(g.dx_a, NC);
  if (c.out_proj_norm) {
    zero(g.dlnf, NC);
    mlp_bwd(m_layout.out_mlp, P, h, N, m_out_acts, dy, g.dlnf.data(), grads);
    m_ops.layernorm_bwd(m_ops.ctx, m_stream[L].data(), P + m_layout.out_norm.weight, m_meanf.data(),
                        m_rstdf.data(), g.dlnf.data(), dx, grads + m_layout.out_norm.weight,
                        grads + m_layout.out_norm.bias, N, C);
  } else {
    mlp_bwd(m_layout.out_mlp, P, h, N, m_out_acts, dy, dx, grads);
  }
  for (int l = L - 1; l >= 0; --l) {
    // Recomputing rewrites stream[l+1] with the values it already holds (same ops, same order),
    // and that buffer is not read again.
    if (m_forward_recomputes)
      block_fwd(m_layout.blocks[l], P, m_stream[l].data(), m_blocks[0], m_stream[l + 1].data());
    block_bwd(m_layout.blocks[l], P, m_stream[l].data(), m_blocks[m_forward_recomputes ? 0 : l],
              dx, dx_other, grads);
    std::swap(dx, dx_other);
  }
  // The input features need no gradient.
  mlp_bwd(m_layout.in_proj, P, m_x.data(), N, m_in_acts, dx, nullptr, grads);
}

template <typename T>
std::int64_t Model<T>::buffer_bytes() const {
  std::int64_t total = m_x.bytes() + m_lnf.bytes() + m_meanf.bytes() + m_rstdf.bytes() +
                       m_io_x.bytes() + m_io_y.bytes();
  auto mlp = [&](const MlpActs& a) {
    for (const auto& b : a.pre) total += b.bytes();
    for (const auto& b : a.hid) total += b.bytes();
  };
  mlp(m_in_acts);
  mlp(m_out_acts);
  for (const auto& s : m_stream) total += s.bytes();
  for (const auto& a : m_blocks) {
    for (const Buf* b :
         {&a.ln1,     &a.mean1, &a.rstd1,   &a.k,      &a.kd,  &a.v,     &a.kn,    &a.kmean,
          &a.krstd,   &a.kdn,   &a.kdmean,  &a.kdrstd, &a.qn,  &a.qmean, &a.qrstd, &a.z,
          &a.lse_enc, &a.y,     &a.lse_dec, &a.xmid,   &a.ln2, &a.mean2, &a.rstd2, &a.tmp})
      total += b->bytes();
    mlp(a.k_mlp);
    mlp(a.kd_mlp);
    mlp(a.v_mlp);
    mlp(a.f_mlp);
  }
  const Grads& g = m_g;
  for (const Buf* b : {&g.dx_a, &g.dx_b, &g.dxmid, &g.dln1, &g.dln2, &g.dy, &g.dz, &g.dqn, &g.dkn,
                       &g.dkdn, &g.dk, &g.dkd, &g.dv, &g.dh, &g.da, &g.dlnf})
    total += b->bytes();
  return total;
}

template class Model<float>;
template class Model<double>;

}  // namespace flare::surrogate
