// combine_checkpoints (surrogate/ensemble.h): members of one config, recipe, normalisation and
// training domain become one ensemble checkpoint; anything else is refused with one line naming
// the member file.
#include <gtest/gtest.h>

#include "model_fixtures.h"
#include "surrogate/ensemble.h"
#include "surrogate/param_layout.h"
#include "tests/support/errors.h"

using namespace flare;
using namespace flare::surrogate;

namespace {

Checkpoint member(std::uint64_t seed) {
  Checkpoint c;
  c.config = test_util::tiny_config(0);
  c.params = test_util::test_params<float>(ParamLayout(c.config), seed);
  c.normalizer = {{"feature_mean", {0.0, 1.0, 2.0}}};
  c.feature_recipe = {{"features", {"x", "y", "z"}}, {"version", 2}};
  c.training_domain = {{"samples", 3}};
  c.training = {{"options", {{"seed", seed}}}};
  return c;
}

using Members = std::vector<std::pair<std::string, Checkpoint>>;

}  // namespace

TEST(CombineCheckpoints, StacksTheMembersBehindTheFirst) {
  const Members m = {{"a.h5", member(1)}, {"b.h5", member(2)}, {"c.h5", member(3)}};
  std::vector<std::string> warnings;
  const Checkpoint e = combine_checkpoints(m, &warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(e.num_members(), 3);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(e.member(k), m[std::size_t(k)].second.params) << k;
  EXPECT_EQ(e.normalizer, m[0].second.normalizer);
  EXPECT_EQ(e.feature_recipe, m[0].second.feature_recipe);
  EXPECT_FALSE(e.has_optimizer);
  const EnsembleInfo info = EnsembleInfo::from_json(e.ensemble, "e.h5");
  EXPECT_EQ(info.members, 3);
  EXPECT_EQ(info.sigma_scale, 1.0);
  EXPECT_FALSE(info.calibrated());
  EXPECT_EQ(info.sources, (std::vector<std::string>{"a.h5", "b.h5", "c.h5"}));
}

TEST(CombineCheckpoints, IdenticalWeightsAreAllowedWithAWarning) {
  std::vector<std::string> warnings;
  const Checkpoint e = combine_checkpoints({{"a.h5", member(1)}, {"b.h5", member(1)}}, &warnings);
  EXPECT_EQ(e.num_members(), 2);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("b.h5 has the same weights as a.h5"), std::string::npos) << warnings[0];
}

TEST(CombineCheckpoints, RefusesMismatchedMembersNamingTheFile) {
  auto refused = [](Checkpoint odd) {
    return test::input_error([&] { combine_checkpoints({{"a.h5", member(1)}, {"odd.h5", odd}}); });
  };
  Checkpoint wider = member(2);
  wider.config.channel_dim = 16;
  wider.params = test_util::test_params<float>(ParamLayout(wider.config), 2);
  Checkpoint other_recipe = member(2);
  other_recipe.feature_recipe["version"] = 1;
  Checkpoint other_stats = member(2);
  other_stats.normalizer["feature_mean"][0] = 0.5;
  Checkpoint other_domain = member(2);
  other_domain.training_domain["samples"] = 4;
  Checkpoint no_recipe = member(2);
  no_recipe.feature_recipe = nullptr;
  Checkpoint nested = member(2);
  nested.more_members = {nested.params};
  for (const auto& [ck, needle] : {std::pair{wider, "model config"}, {other_recipe, "feature recipe"},
                                   {other_stats, "normalisation"}, {other_domain, "training domain"},
                                   {no_recipe, "no normalizer or feature recipe"},
                                   {nested, "already an ensemble of 2 members"}}) {
    const std::string msg = refused(ck);
    EXPECT_EQ(msg.rfind("odd.h5", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  const std::string one = test::input_error([] { combine_checkpoints({{"a.h5", member(1)}}); });
  EXPECT_NE(one.find("2 or more member checkpoints, got 1"), std::string::npos) << one;
}
