#include "surrogate/config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

namespace flare::surrogate {

float ModelConfig::scale() const {
  return attn_scale == AttnScale::One ? 1.0f : 1.0f / std::sqrt(static_cast<float>(head_dim()));
}

namespace {
// FLARE.py's ResidualMLP keeps a residual only where the widths allow it; record the effective
// flags so every backend reads the same decision.
MlpShape make_shape(int in, int hidden, int out, int layers, bool input_res, bool output_res) {
  MlpShape s{in, hidden, out, layers, false, false};
  if (layers == -1) {
    // nn.Linear path: residual only if both flags are set and in == out.
    s.hidden = out;
    s.input_residual = false;
    s.output_residual = input_res && output_res && in == out;
  } else {
    s.input_residual = input_res && in == hidden;
    s.output_residual = output_res && hidden == out;
  }
  return s;
}

int ratio_width(int c, double ratio) { return static_cast<int>(c * ratio); }
}  // namespace

MlpShape ModelConfig::in_proj_shape() const {
  return make_shape(in_dim, channel_dim, channel_dim, num_layers_in_out_proj, false, true);
}
MlpShape ModelConfig::k_proj_shape() const {
  return make_shape(channel_dim, ratio_width(channel_dim, k_proj_mlp_ratio), channel_dim,
                    num_layers_k_proj, true, true);
}
MlpShape ModelConfig::v_proj_shape() const {
  return make_shape(channel_dim, ratio_width(channel_dim, v_proj_mlp_ratio), channel_dim,
                    num_layers_v_proj, true, true);
}
MlpShape ModelConfig::ffn_shape() const {
  return make_shape(channel_dim, ratio_width(channel_dim, ffn_mlp_ratio), channel_dim,
                    num_layers_ffn, true, true);
}
MlpShape ModelConfig::out_proj_shape() const {
  return make_shape(channel_dim, channel_dim, out_dim, num_layers_in_out_proj, true, false);
}

void ModelConfig::validate() const {
  auto positive = [](int v, const char* name) {
    FLARE_INPUT_CHECK(v > 0, "model config: ", name, " must be positive (got ", v, ")");
  };
  positive(in_dim, "in_dim");
  positive(out_dim, "out_dim");
  positive(channel_dim, "channel_dim");
  // L = 0 is allowed on purpose: in_proj -> LayerNorm -> out_proj is then a pointwise residual MLP
  // on the same features, the baseline every FLARE result is compared against (same data, code
  // and training recipe; only the mixing across points is missing).
  FLARE_INPUT_CHECK(num_blocks >= 0, "model config: num_blocks must be >= 0 (got ", num_blocks,
                    "; 0 gives the pointwise MLP baseline)");
  positive(num_heads, "num_heads");
  positive(num_latents, "num_latents");
  FLARE_INPUT_CHECK(channel_dim % num_heads == 0, "model config: channel_dim (", channel_dim,
                    ") must be divisible by num_heads (", num_heads, ")");
  for (auto [v, name] : {std::pair{k_proj_mlp_ratio, "k_proj_mlp_ratio"},
                         std::pair{v_proj_mlp_ratio, "v_proj_mlp_ratio"},
                         std::pair{ffn_mlp_ratio, "ffn_mlp_ratio"}}) {
    FLARE_INPUT_CHECK(std::isfinite(v) && ratio_width(channel_dim, v) >= 1, "model config: ", name,
                      " = ", v, " gives a hidden width below 1; use a ratio with channel_dim·ratio >= 1");
  }
  for (auto [v, name] : {std::pair{num_layers_k_proj, "num_layers_k_proj"},
                         std::pair{num_layers_v_proj, "num_layers_v_proj"},
                         std::pair{num_layers_ffn, "num_layers_ffn"},
                         std::pair{num_layers_in_out_proj, "num_layers_in_out_proj"}}) {
    FLARE_INPUT_CHECK(v >= -1, "model config: ", name, " must be >= -1 (-1 = one Linear), got ", v);
  }
  FLARE_INPUT_CHECK(activation == "gelu_tanh", "model config: activation '", activation,
                    "' is not supported; use 'gelu_tanh'");
  FLARE_INPUT_CHECK(std::isfinite(layernorm_eps) && layernorm_eps > 0,
                    "model config: layernorm_eps must be positive, got ", layernorm_eps);
}

nlohmann::json to_json(const ModelConfig& c) {
  return {{"in_dim", c.in_dim},
          {"out_dim", c.out_dim},
          {"channel_dim", c.channel_dim},
          {"num_blocks", c.num_blocks},
          {"num_heads", c.num_heads},
          {"num_latents", c.num_latents},
          {"attn_scale", c.attn_scale == AttnScale::One ? "one" : "sqrt"},
          {"k_proj_mlp_ratio", c.k_proj_mlp_ratio},
          {"v_proj_mlp_ratio", c.v_proj_mlp_ratio},
          {"ffn_mlp_ratio", c.ffn_mlp_ratio},
          {"num_layers_k_proj", c.num_layers_k_proj},
          {"num_layers_v_proj", c.num_layers_v_proj},
          {"num_layers_ffn", c.num_layers_ffn},
          {"num_layers_in_out_proj", c.num_layers_in_out_proj},
          {"out_proj_norm", c.out_proj_norm},
          {"qk_norm", c.qk_norm},
          {"separate_decode_keys", c.separate_decode_keys},
          {"activation", c.activation},
          {"layernorm_eps", c.layernorm_eps}};
}

ModelConfig config_from_json(const nlohmann::json& j, const std::string& context) {
  FLARE_INPUT_CHECK(j.is_object(), context, ": model config must be a JSON object");
  const std::set<std::string> known = [] {
    std::set<std::string> k;
    const nlohmann::json defaults = to_json(ModelConfig{});
    for (auto& [key, value] : defaults.items()) k.insert(key);
    return k;
  }();
  for (auto& [key, value] : j.items())
    FLARE_INPUT_CHECK(known.count(key), context, ": unknown model config key '", key, "'");

  ModelConfig c;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      throw InputError(detail::concat(context, ": model config key '", key, "' has the wrong type (",
                                      j.at(key).dump(), ")"));
    }
  };
  get("in_dim", c.in_dim);
  get("out_dim", c.out_dim);
  get("channel_dim", c.channel_dim);
  get("num_blocks", c.num_blocks);
  get("num_heads", c.num_heads);
  get("num_latents", c.num_latents);
  std::string scale = "one";
  get("attn_scale", scale);
  FLARE_INPUT_CHECK(scale == "one" || scale == "sqrt", context, ": attn_scale must be 'one' or 'sqrt', got '",
                    scale, "'");
  c.attn_scale = scale == "one" ? AttnScale::One : AttnScale::Sqrt;
  get("k_proj_mlp_ratio", c.k_proj_mlp_ratio);
  get("v_proj_mlp_ratio", c.v_proj_mlp_ratio);
  get("ffn_mlp_ratio", c.ffn_mlp_ratio);
  get("num_layers_k_proj", c.num_layers_k_proj);
  get("num_layers_v_proj", c.num_layers_v_proj);
  get("num_layers_ffn", c.num_layers_ffn);
  get("num_layers_in_out_proj", c.num_layers_in_out_proj);
  get("out_proj_norm", c.out_proj_norm);
  get("qk_norm", c.qk_norm);
  get("separate_decode_keys", c.separate_decode_keys);
  get("activation", c.activation);
  get("layernorm_eps", c.layernorm_eps);
  try {
    c.validate();
  } catch (const InputError& e) {
    throw InputError(detail::concat(context, ": ", e.what()));
  }
  return c;
}

}  // namespace flare::surrogate
