#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "surrogate/config.h"

using namespace flare::surrogate;

TEST(ModelConfig, JsonRoundTrip) {
  ModelConfig c;
  c.in_dim = 5;
  c.out_dim = 3;
  c.attn_scale = AttnScale::Sqrt;
  c.qk_norm = true;
  c.separate_decode_keys = true;
  c.ffn_mlp_ratio = 2.0;
  c.num_layers_ffn = -1;
  const ModelConfig back = config_from_json(to_json(c), "test");
  EXPECT_EQ(back, c);
  EXPECT_EQ(to_json(back).dump(), to_json(c).dump());
}

TEST(ModelConfig, MissingKeysTakeDefaults) {
  const ModelConfig c = config_from_json(nlohmann::json{{"in_dim", 3}}, "test");
  EXPECT_EQ(c.in_dim, 3);
  EXPECT_EQ(c.channel_dim, 64);
  EXPECT_EQ(c.num_latents, 64);
  EXPECT_EQ(c.attn_scale, AttnScale::One);
  EXPECT_FLOAT_EQ(c.scale(), 1.0f);
}

TEST(ModelConfig, RejectsBadValuesWithTheContext) {
  auto expect_input_error = [](nlohmann::json j, const std::string& needle) {
    try {
      config_from_json(j, "ckpt.h5");
      FAIL() << "accepted " << j.dump();
    } catch (const flare::InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("ckpt.h5"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_input_error({{"channel_dim", 60}, {"num_heads", 8}}, "divisible");
  expect_input_error({{"num_latents", 0}}, "num_latents");
  expect_input_error({{"attn_scale", "half"}}, "attn_scale");
  expect_input_error({{"activation", "relu"}}, "activation");
  expect_input_error({{"chanel_dim", 64}}, "unknown");
  expect_input_error({{"in_dim", "eight"}}, "wrong type");
  expect_input_error({{"ffn_mlp_ratio", 0.001}}, "ffn_mlp_ratio");
  expect_input_error({{"num_layers_ffn", -2}}, "num_layers_ffn");
}

TEST(ModelConfig, SqrtScale) {
  ModelConfig c;
  c.channel_dim = 64;
  c.num_heads = 4;
  c.attn_scale = AttnScale::Sqrt;
  EXPECT_FLOAT_EQ(c.scale(), 0.25f);
}

TEST(ModelConfig, ResidualFlagsFollowFlarePy) {
  ModelConfig c;
  c.in_dim = 8;
  EXPECT_FALSE(c.in_proj_shape().input_residual);  // never on for in_proj
  EXPECT_TRUE(c.in_proj_shape().output_residual);
  EXPECT_TRUE(c.out_proj_shape().input_residual);
  EXPECT_FALSE(c.out_proj_shape().output_residual);
  c.ffn_mlp_ratio = 2.0;  // hidden 128 != C: both residuals drop
  EXPECT_FALSE(c.ffn_shape().input_residual);
  EXPECT_FALSE(c.ffn_shape().output_residual);
  c.channel_dim = 8;  // in_proj 8 -> 8 still never input-residual; out_proj T=1 never output
  c.num_heads = 1;
  EXPECT_FALSE(c.in_proj_shape().input_residual);
}
