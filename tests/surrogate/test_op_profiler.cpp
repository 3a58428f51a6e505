// OpProfiler: a model on the decorated table computes exactly what it computes on the plain one,
// every op call is counted under its name (linear ops under their shape), disabled it counts
// nothing, and the decorator's op list covers every op of OpTable.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "surrogate/model.h"
#include "surrogate/op_profiler.h"
#include "tests/surrogate/model_fixtures.h"

namespace flare::surrogate {
namespace {

using test_util::test_params;
using test_util::tiny_config;

std::map<std::string, OpTime> by_op(const std::vector<OpTime>& v) {
  std::map<std::string, OpTime> m;
  for (const auto& t : v) m[t.op] = t;
  return m;
}

struct Outputs {
  std::vector<float> y, grads;
};

Outputs forward_backward(const OpTable<float>& ops, const ParamLayout& layout,
                     const std::vector<float>& params, const std::vector<float>& x,
                     const std::vector<std::int64_t>& offsets) {
  Model<float> model(layout, ops);
  const int B = int(offsets.size()) - 1;
  const std::int64_t rows = offsets.back(), T = layout.config().out_dim;
  Outputs r;
  r.y.assign(std::size_t(rows * T), 0.f);
  r.grads.assign(params.size(), 0.f);
  model.forward(params.data(), x.data(), offsets.data(), B, r.y.data());
  std::vector<float> dy(r.y.size());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = 0.01f * float(i % 7) - 0.03f;
  model.backward(params.data(), dy.data(), r.grads.data());
  return r;
}

TEST(OpProfiler, SameResultsAndEveryCallCounted) {
  const ModelConfig c = tiny_config(1);  // qk_norm, separate decode keys: every op kind runs
  const ParamLayout layout(c);
  const auto params = test_params<float>(layout, 3);
  const std::vector<std::int64_t> offsets{0, 17, 40};
  std::vector<float> x(std::size_t(offsets.back() * c.in_dim));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 11) / 11.f - 0.5f;

  const Outputs plain = forward_backward(cpu_ops(), layout, params, x, offsets);
  OpProfiler<float> prof(cpu_ops());
  const Outputs timed = forward_backward(prof.ops(), layout, params, x, offsets);
  EXPECT_EQ(plain.y, timed.y);
  EXPECT_EQ(plain.grads, timed.grads);

  const auto ops = by_op(prof.times());
  const int L = c.num_blocks;
  EXPECT_EQ(ops.at("flare_encode_fwd").calls, L);
  EXPECT_EQ(ops.at("flare_decode_fwd").calls, L);
  EXPECT_EQ(ops.at("flare_encode_bwd").calls, L);  // separate keys: no fused mixer backward
  EXPECT_EQ(ops.at("flare_decode_bwd").calls, L);
  EXPECT_EQ(ops.at("latent_layernorm_fwd").calls, L);
  EXPECT_EQ(ops.count("linear_fwd 3x8"), 1u) << "the input projection, keyed by its shape";
  EXPECT_EQ(ops.count("linear_bwd 8x2"), 1u) << "the output projection's backward";
  std::int64_t linear_fwd = 0, linear_bwd = 0;
  for (const auto& [name, t] : ops) {
    EXPECT_GE(t.ms, 0.0) << name;
    if (name.rfind("linear_fwd", 0) == 0) linear_fwd += t.calls;
    if (name.rfind("linear_bwd", 0) == 0) linear_bwd += t.calls;
  }
  EXPECT_GT(linear_fwd, 0);
  EXPECT_EQ(linear_fwd, linear_bwd) << "every Linear of the forward has its backward";
  const auto times = prof.times();
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end(),
                             [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; }));

  prof.reset();
  prof.set_enabled(false);
  const Outputs quiet = forward_backward(prof.ops(), layout, params, x, offsets);
  EXPECT_EQ(quiet.y, plain.y);
  EXPECT_TRUE(prof.times().empty());
}

// An op added to OpTable but not to FLARE_OPTABLE_OPS would run undecorated and vanish from the
// profile: the table must be exactly ctx, mem and the listed function pointers.
TEST(OpProfiler, OpListCoversTheWholeTable) {
  constexpr std::size_t listed = 0
#define FLARE_COUNT(name) +1
      FLARE_OPTABLE_OPS(FLARE_COUNT)
#undef FLARE_COUNT
      ;
  EXPECT_EQ(sizeof(OpTable<float>), sizeof(void*) + sizeof(Memory) + listed * sizeof(void (*)()));
  OpProfiler<float> prof(cpu_ops());
  const OpTable<float> plain = cpu_ops();
#define FLARE_CHECK_DECORATED(name) \
  EXPECT_EQ(plain.name == nullptr, prof.ops().name == nullptr) << #name; \
  if (plain.name) EXPECT_NE(reinterpret_cast<void*>(plain.name), reinterpret_cast<void*>(prof.ops().name)) << #name;
  FLARE_OPTABLE_OPS(FLARE_CHECK_DECORATED)
#undef FLARE_CHECK_DECORATED
}

}  // namespace
}  // namespace flare::surrogate
