// Shared helpers for the model tests: tiny configs and "test" parameters in which every tensor is
// non-trivial (non-zero biases, LayerNorm away from 1/0, latent_q ~ N(0,1) so both softmaxes are
// far from uniform): the default init (zero biases, tiny latents) would leave whole code paths
// untested by a gradient check.
#pragma once

#include <cmath>
#include <vector>

#include "surrogate/param_layout.h"

namespace flare::surrogate::test_util {

inline ModelConfig tiny_config(int variant) {
  ModelConfig c;
  c.in_dim = 3;
  c.out_dim = 2;
  c.channel_dim = 8;
  c.num_heads = 2;
  c.num_latents = 3;
  c.num_blocks = 2;
  c.num_layers_k_proj = 1;
  c.num_layers_v_proj = 2;
  c.num_layers_ffn = 1;
  c.num_layers_in_out_proj = 1;
  if (variant == 1) {  // every option flipped
    c.qk_norm = true;
    c.separate_decode_keys = true;
    c.attn_scale = AttnScale::Sqrt;
    c.ffn_mlp_ratio = 2.0;      // hidden != C: residuals drop
    c.num_layers_v_proj = -1;   // single Linear path (with residual)
  } else if (variant == 2) {
    c.out_proj_norm = false;
    c.num_layers_in_out_proj = -1;
    c.qk_norm = true;
  }
  return c;
}

template <typename T>
std::vector<T> test_params(const ParamLayout& layout, std::uint64_t seed) {
  std::vector<T> p(static_cast<std::size_t>(layout.size()));
  NormalRng rng(seed);
  for (const auto& t : layout.tensors()) {
    const bool norm = t.name.find("norm") != std::string::npos || t.name.rfind("out_proj.0.", 0) == 0;
    const bool latent = t.name.find("latent_q") != std::string::npos;
    const bool weight = t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
    for (std::int64_t i = 0; i < t.size; ++i) {
      const double r = rng.normal();
      double v;
      if (latent) v = r;
      else if (norm) v = (weight ? 1.0 : 0.0) + 0.1 * r;
      else if (!weight) v = 0.1 * r;
      else v = r / std::sqrt(double(t.shape[1]));
      p[t.offset + i] = static_cast<T>(static_cast<float>(v));
    }
  }
  return p;
}

template <typename T>
std::vector<T> normal_vector(std::int64_t n, std::uint64_t seed) {
  NormalRng rng(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(static_cast<float>(rng.normal()));
  return v;
}

}  // namespace flare::surrogate::test_util
