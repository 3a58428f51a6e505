// Eval metrics with hand-computed answers: vector and per-component rel-L2, per-family summaries.
#include <gtest/gtest.h>

#include <cmath>

#include "surrogate/evaluate.h"

using namespace flare;
using namespace flare::surrogate;

TEST(EvalMetrics, VectorAndComponentRelL2) {
  mesh::FeatureMatrix truth(2, 3), pred(2, 3);
  truth << 3, 0, 4, 0, 0, 0;
  pred << 3, 1, 4, 0, 0, 2;
  const SampleMetrics m = sample_metrics(pred, truth);
  EXPECT_EQ(m.points, 2);
  EXPECT_DOUBLE_EQ(m.rel_l2, std::sqrt(5.0 / 25.0));  // all columns: |(0,1,2)| / |(3,4)|
  ASSERT_EQ(m.component_rel_l2.size(), 3u);
  EXPECT_DOUBLE_EQ(m.component_rel_l2[0], 0.0);
  EXPECT_DOUBLE_EQ(m.component_rel_l2[1], 1.0);  // all-zero truth: the absolute norm
  EXPECT_DOUBLE_EQ(m.component_rel_l2[2], 0.5);  // 2 / 4
  EXPECT_DOUBLE_EQ(m.mae, 0.5);
  EXPECT_DOUBLE_EQ(m.max_error, 2.0);
}

TEST(EvalMetrics, SummariesOverAllAndByFamily) {
  std::vector<SampleMetrics> m(4);
  const double rel[4] = {0.1, 0.2, 0.3, 0.7};
  for (int i = 0; i < 4; ++i) {
    m[i].sample = i + 10;  // dataset indices, not positions
    m[i].rel_l2 = rel[i];
    m[i].component_rel_l2 = {rel[i] * 2, rel[i] * 3};
  }
  std::vector<std::string> families(14, "ignored");
  families[10] = "wall";
  families[11] = "tube";
  families[12] = "wall";
  families[13] = "wall";
  const MetricsSummary s = summarize(m);
  EXPECT_DOUBLE_EQ(s.mean_rel_l2, 0.325);
  EXPECT_DOUBLE_EQ(s.median_rel_l2, 0.25);
  EXPECT_DOUBLE_EQ(s.max_rel_l2, 0.7);
  ASSERT_EQ(s.mean_component_rel_l2.size(), 2u);
  EXPECT_DOUBLE_EQ(s.mean_component_rel_l2[1], 0.975);
  EXPECT_DOUBLE_EQ(s.median_component_rel_l2[0], 0.5);

  const auto f = summarize_by_family(m, families);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].family, "tube");  // sorted by name
  EXPECT_EQ(f[0].samples, 1);
  EXPECT_DOUBLE_EQ(f[0].mean_rel_l2, 0.2);
  EXPECT_EQ(f[1].family, "wall");
  EXPECT_EQ(f[1].samples, 3);
  EXPECT_DOUBLE_EQ(f[1].mean_rel_l2, (0.1 + 0.3 + 0.7) / 3);
  EXPECT_DOUBLE_EQ(f[1].median_rel_l2, 0.3);
  EXPECT_DOUBLE_EQ(f[1].median_component_rel_l2[1], 0.9);
  EXPECT_NEAR(f[1].mean_component_rel_l2[0], 2 * (0.1 + 0.3 + 0.7) / 3, 1e-15);
}

TEST(EvalMetrics, ColumnNamesUseAxesForVectors) {
  EXPECT_EQ(metric_column_names({"displacement", "T", "s"}, {3, 1, 2}),
            (std::vector<std::string>{"displacement_x", "displacement_y", "displacement_z", "T",
                                      "s_0", "s_1"}));
}
