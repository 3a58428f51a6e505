#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "surrogate/param_layout.h"

using namespace flare::surrogate;

TEST(ParamLayout, DefaultCountMatchesFlarePy) {
  ModelConfig c;  // F = 8, T = 1, FLARE.py defaults
  ParamLayout layout(c);
  EXPECT_EQ(layout.size(), 593025);
}

TEST(ParamLayout, NamesShapesAndOffsetsAreContiguous) {
  ModelConfig c;
  c.num_blocks = 2;
  ParamLayout layout(c);
  std::int64_t expect_offset = 0;
  std::set<std::string> names;
  for (const auto& t : layout.tensors()) {
    EXPECT_EQ(t.offset, expect_offset) << t.name;
    std::int64_t n = 1;
    for (auto d : t.shape) n *= d;
    EXPECT_EQ(n, t.size) << t.name;
    expect_offset += t.size;
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;
  }
  EXPECT_EQ(expect_offset, layout.size());
  // FLARE.py state_dict names and shapes.
  ASSERT_NE(layout.find("in_proj.fc1.weight"), nullptr);
  EXPECT_EQ(layout.find("in_proj.fc1.weight")->shape, (std::vector<std::int64_t>{64, 8}));
  EXPECT_EQ(layout.find("blocks.1.att.latent_q")->shape, (std::vector<std::int64_t>{64, 64}));
  EXPECT_EQ(layout.find("out_proj.1.fc2.weight")->shape, (std::vector<std::int64_t>{1, 64}));
  EXPECT_NE(layout.find("out_proj.0.weight"), nullptr);
  EXPECT_NE(layout.find("blocks.0.att.k_proj.fcs.2.bias"), nullptr);
  EXPECT_EQ(layout.find("blocks.0.att.q_norm.weight"), nullptr);
  EXPECT_EQ(layout.find("blocks.0.att.k_dec_proj.fc1.weight"), nullptr);
  // Slots point at the named tensors.
  EXPECT_EQ(layout.blocks[1].latent_q, layout.find("blocks.1.att.latent_q")->offset);
  EXPECT_EQ(layout.blocks[0].mlp.fcs[1].weight, layout.find("blocks.0.mlp.fcs.1.weight")->offset);
  EXPECT_EQ(layout.out_mlp.fc2.bias, layout.find("out_proj.1.fc2.bias")->offset);
  // Weight decay: Linear weights only.
  EXPECT_TRUE(layout.find("blocks.0.mlp.fc1.weight")->decay);
  EXPECT_FALSE(layout.find("blocks.0.mlp.fc1.bias")->decay);
  EXPECT_FALSE(layout.find("blocks.0.norm1.weight")->decay);
  EXPECT_FALSE(layout.find("blocks.0.att.latent_q")->decay);
}

TEST(ParamLayout, VariantsAddTheirTensors) {
  ModelConfig c;
  c.num_blocks = 1;
  const std::int64_t base = ParamLayout(c).size();
  c.qk_norm = true;
  c.separate_decode_keys = true;
  ParamLayout layout(c);
  const int D = c.head_dim();
  EXPECT_EQ(layout.find("blocks.0.att.q_norm.weight")->shape, (std::vector<std::int64_t>{D}));
  EXPECT_NE(layout.find("blocks.0.att.k_norm.bias"), nullptr);
  EXPECT_NE(layout.find("blocks.0.att.k_dec_proj.fc2.weight"), nullptr);
  EXPECT_EQ(layout.size(), base + 4 * D + 5 * (64 * 64 + 64));
  c.out_proj_norm = false;
  c.num_layers_ffn = -1;
  ParamLayout plain(c);
  EXPECT_EQ(plain.find("out_proj.0.weight"), nullptr);
  EXPECT_NE(plain.find("blocks.0.mlp.fc.weight"), nullptr);
}

TEST(ParamLayout, InitIsSeededAndHasTheDocumentedStatistics) {
  ModelConfig c;
  ParamLayout layout(c);
  std::vector<float> a(layout.size()), b(layout.size()), d(layout.size());
  layout.initialize(a.data(), 7);
  layout.initialize(b.data(), 7);
  layout.initialize(d.data(), 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, d);
  auto stats = [&](const std::string& name) {
    const auto* t = layout.find(name);
    double s = 0, s2 = 0;
    for (std::int64_t i = 0; i < t->size; ++i) {
      s += a[t->offset + i];
      s2 += double(a[t->offset + i]) * a[t->offset + i];
    }
    const double mean = s / t->size;
    return std::pair{mean, std::sqrt(s2 / t->size - mean * mean)};
  };
  auto [qm, qs] = stats("blocks.0.att.latent_q");  // 4096 samples: std error of std ~ 1.1%
  EXPECT_NEAR(qm, 0.0, 0.01);
  EXPECT_NEAR(qs, 0.1, 0.005);
  auto [wm, ws] = stats("blocks.3.att.k_proj.fcs.0.weight");
  EXPECT_NEAR(wm, 0.0, 0.002);
  EXPECT_NEAR(ws, 0.02, 0.001);
  auto [bm, bs] = stats("blocks.3.att.k_proj.fcs.0.bias");
  EXPECT_EQ(bm, 0.0);
  EXPECT_EQ(bs, 0.0);
  auto [nm, ns] = stats("blocks.2.norm2.weight");
  EXPECT_EQ(nm, 1.0);
}

TEST(NormalRng, MomentsOfTheSampler) {
  NormalRng rng(123);
  double s = 0, s2 = 0, s4 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    s += x;
    s2 += x * x;
    s4 += x * x * x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
  EXPECT_NEAR(s4 / n, 3.0, 0.06);  // kurtosis of a normal
}

#include "surrogate/flops.h"

TEST(Flops, DefaultModelByHand) {
  ModelConfig c;
  // in_proj 2(8·64 + 2·64² + 64²) = 25,600; per block 3 MLPs × 2·5·64² + out 2·64² + mixer
  // 8·64·64 = 163,840, × 8 blocks; out_proj 2(64² + 2·64² + 64·1) = 24,704.
  EXPECT_DOUBLE_EQ(forward_flops_per_point(c), 25600.0 + 8 * 163840.0 + 24704.0);
  EXPECT_DOUBLE_EQ(train_flops_per_point(c), 3 * forward_flops_per_point(c));
  c.separate_decode_keys = true;
  EXPECT_DOUBLE_EQ(forward_flops_per_point(c), 25600.0 + 8 * (163840.0 + 40960.0) + 24704.0);
}
