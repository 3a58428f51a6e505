#include "surrogate/param_layout.h"

#include <cmath>
#include <numbers>

#include "common/error.h"

namespace flare::surrogate {

double NormalRng::uniform() {
  return (static_cast<double>(m_engine() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double NormalRng::normal() {
  if (m_has_spare) {
    m_has_spare = false;
    return m_spare;
  }
  const double u1 = uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 2.0 * std::numbers::pi * u2;
  m_spare = r * std::sin(t);
  m_has_spare = true;
  return r * std::cos(t);
}

std::int64_t ParamLayout::add(std::string name, std::vector<std::int64_t> shape, ParamInit init,
                              float std, bool decay) {
  ParamInfo info;
  info.name = std::move(name);
  info.size = 1;
  for (auto d : shape) info.size *= d;
  info.shape = std::move(shape);
  info.offset = m_size;
  info.init = init;
  info.init_std = std;
  info.decay = decay;
  m_size += info.size;
  m_tensors.push_back(std::move(info));
  return m_tensors.back().offset;
}

LinearSlot ParamLayout::add_linear(const std::string& prefix, int in, int out) {
  LinearSlot s;
  s.in = in;
  s.out = out;
  s.weight = add(prefix + ".weight", {out, in}, ParamInit::Normal, 0.02f, true);
  s.bias = add(prefix + ".bias", {out}, ParamInit::Zeros, 0.0f, false);
  return s;
}

NormSlot ParamLayout::add_norm(const std::string& prefix, int dim) {
  NormSlot s;
  s.dim = dim;
  s.weight = add(prefix + ".weight", {dim}, ParamInit::Ones, 0.0f, false);
  s.bias = add(prefix + ".bias", {dim}, ParamInit::Zeros, 0.0f, false);
  return s;
}

MlpSlots ParamLayout::add_mlp(const std::string& prefix, const MlpShape& shape) {
  MlpSlots m;
  m.shape = shape;
  if (shape.layers == -1) {
    m.fc1 = add_linear(prefix + ".fc", shape.in, shape.out);
    return m;
  }
  m.fc1 = add_linear(prefix + ".fc1", shape.in, shape.hidden);
  for (int i = 0; i < shape.layers; ++i)
    m.fcs.push_back(add_linear(prefix + ".fcs." + std::to_string(i), shape.hidden, shape.hidden));
  m.fc2 = add_linear(prefix + ".fc2", shape.hidden, shape.out);
  return m;
}

ParamLayout::ParamLayout(const ModelConfig& config) : m_config(config) {
  config.validate();
  const int C = config.channel_dim, M = config.num_latents, D = config.head_dim();
  // FLARE.py registration order: in_proj, out_proj, blocks (state_dict order).
  in_proj = add_mlp("in_proj", config.in_proj_shape());
  if (config.out_proj_norm) out_norm = add_norm("out_proj.0", C);
  out_mlp = add_mlp("out_proj.1", config.out_proj_shape());
  for (int l = 0; l < config.num_blocks; ++l) {
    const std::string p = "blocks." + std::to_string(l);
    BlockSlots b;
    b.norm1 = add_norm(p + ".norm1", C);
    b.norm2 = add_norm(p + ".norm2", C);
    b.latent_q = add(p + ".att.latent_q", {C, M}, ParamInit::Normal, 0.1f, false);
    if (config.qk_norm) {
      b.q_norm = add_norm(p + ".att.q_norm", D);
      b.k_norm = add_norm(p + ".att.k_norm", D);
    }
    b.k_proj = add_mlp(p + ".att.k_proj", config.k_proj_shape());
    if (config.separate_decode_keys) b.k_dec_proj = add_mlp(p + ".att.k_dec_proj", config.k_proj_shape());
    b.v_proj = add_mlp(p + ".att.v_proj", config.v_proj_shape());
    b.out_proj = add_linear(p + ".att.out_proj", C, C);
    b.mlp = add_mlp(p + ".mlp", config.ffn_shape());
    blocks.push_back(std::move(b));
  }
}

const ParamInfo* ParamLayout::find(std::string_view name) const {
  for (const auto& t : m_tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void ParamLayout::initialize(float* params, std::uint64_t seed) const {
  NormalRng rng(seed);
  for (const auto& t : m_tensors) {
    float* p = params + t.offset;
    for (std::int64_t i = 0; i < t.size; ++i) {
      switch (t.init) {
        case ParamInit::Zeros: p[i] = 0.0f; break;
        case ParamInit::Ones: p[i] = 1.0f; break;
        case ParamInit::Normal: p[i] = static_cast<float>(t.init_std * rng.normal()); break;
      }
    }
  }
}

}  // namespace flare::surrogate
