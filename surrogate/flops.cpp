#include "surrogate/flops.h"

namespace flare::surrogate {

namespace {
double mlp_flops(const MlpShape& s) {
  if (s.layers == -1) return 2.0 * s.in * s.out;
  return 2.0 * (double(s.in) * s.hidden + double(s.layers) * s.hidden * s.hidden +
                double(s.hidden) * s.out);
}
}  // namespace

double forward_flops_per_point(const ModelConfig& c) {
  const double C = c.channel_dim, M = c.num_latents;
  double block = mlp_flops(c.k_proj_shape()) + mlp_flops(c.v_proj_shape()) +
                 mlp_flops(c.ffn_shape()) + 2.0 * C * C + 8.0 * M * C;
  if (c.separate_decode_keys) block += mlp_flops(c.k_proj_shape());
  return mlp_flops(c.in_proj_shape()) + c.num_blocks * block + mlp_flops(c.out_proj_shape());
}

double train_flops_per_point(const ModelConfig& c) { return 3.0 * forward_flops_per_point(c); }

}  // namespace flare::surrogate
