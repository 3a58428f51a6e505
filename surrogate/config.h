// ModelConfig: every hyper-parameter that fixes the FLARE model's shape and arithmetic
// (../shared/design/flare.md). Field names follow FLARE.py's FLAREModel arguments so that a config
// reads the same on both sides of the PyTorch cross-check; defaults are FLARE.py's defaults
// (593,025 parameters for F = 8, T = 1).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace flare::surrogate {

/// Score scale s of both softmaxes: 'one' (s = 1, FLARE.py default) or 'sqrt' (s = 1/√D).
enum class AttnScale { One, Sqrt };

/// Shape of one ResidualMLP (flare.md): fc1 in→hidden, `layers` hidden→hidden, fc2 hidden→out;
/// layers == -1 means a single Linear in→out.
struct MlpShape {
  int in = 0;
  int hidden = 0;
  int out = 0;
  int layers = 0;
  bool input_residual = false;   ///< effective (already and-ed with in == hidden)
  bool output_residual = false;  ///< effective (already and-ed with hidden == out)
};

/// All shape and arithmetic choices of the model. Plain struct: filled from CLI options or from a
/// checkpoint's JSON attribute; validate() before use.
struct ModelConfig {
  int in_dim = 8;        ///< F, input features per point
  int out_dim = 1;       ///< T, output fields per point
  int channel_dim = 64;  ///< C
  int num_blocks = 8;    ///< L (0: no mixing, a pointwise MLP baseline)
  int num_heads = 8;     ///< H (D = C / H)
  int num_latents = 64;  ///< M latent queries per head
  AttnScale attn_scale = AttnScale::One;
  double k_proj_mlp_ratio = 1.0;
  double v_proj_mlp_ratio = 1.0;
  double ffn_mlp_ratio = 1.0;
  int num_layers_k_proj = 3;
  int num_layers_v_proj = 3;
  int num_layers_ffn = 3;
  int num_layers_in_out_proj = 2;
  bool out_proj_norm = true;         ///< LayerNorm before out_proj (FLARE.py default on)
  bool qk_norm = false;              ///< LayerNorm over D on latent_q and keys (variant)
  bool separate_decode_keys = false; ///< second k_proj for the decode keys (variant)
  std::string activation = "gelu_tanh";
  double layernorm_eps = 1e-5;       ///< torch.nn.LayerNorm default

  int head_dim() const { return channel_dim / num_heads; }
  /// s, the factor applied to every score Q·Kᵀ.
  float scale() const;

  MlpShape in_proj_shape() const;
  MlpShape k_proj_shape() const;  ///< also the decode-key projection when separate_decode_keys
  MlpShape v_proj_shape() const;
  MlpShape ffn_shape() const;
  MlpShape out_proj_shape() const;

  /// Throws flare::InputError naming the first inconsistent field and how to fix it.
  void validate() const;

  bool operator==(const ModelConfig&) const = default;
};

/// JSON with one key per field (attn_scale as "one"|"sqrt").
nlohmann::json to_json(const ModelConfig& config);
/// Parses and validates; unknown keys are an error (a typo must not silently fall back to a
/// default), missing keys take the defaults. `context` names the source (file) in errors.
ModelConfig config_from_json(const nlohmann::json& j, const std::string& context);

}  // namespace flare::surrogate
