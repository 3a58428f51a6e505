// The ensemble uncertainty math (surrogate/uncertainty.h) against direct computations and known
// values: mean and σ of members, the part score, the ±2σ count, the calibration fit reaching its
// coverage on fresh data, Spearman's rank correlation, and the warning-rate bookkeeping.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "surrogate/ensemble.h"
#include "surrogate/evaluate.h"
#include "surrogate/uncertainty.h"

using namespace flare;
using namespace flare::surrogate;

namespace {

mesh::FeatureMatrix random_matrix(Eigen::Index n, Eigen::Index t, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  mesh::FeatureMatrix m(n, t);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

// A prediction with a given mean and per-point σ (one target array of `t` components).
EnsemblePrediction with_sigma(const mesh::FeatureMatrix& mean, const std::vector<double>& sigma) {
  EnsemblePrediction p;
  p.mean = mean;
  p.sigma.resize(mean.rows(), 1);
  for (Eigen::Index i = 0; i < mean.rows(); ++i) p.sigma(i, 0) = sigma[std::size_t(i)];
  return p;
}

}  // namespace

TEST(EnsembleMath, MeanSigmaAndScoreMatchTheDefinitions) {
  std::mt19937_64 rng(5);
  const int K = 4;
  const Eigen::Index N = 37;
  const std::vector<int> components = {3, 1};  // a vector array and a scalar one: T = 4
  std::vector<mesh::FeatureMatrix> members;
  for (int k = 0; k < K; ++k) members.push_back(random_matrix(N, 4, rng));
  const double scale = 1.7;
  const EnsemblePrediction p = combine_predictions(members, components, scale);
  ASSERT_EQ(p.mean.rows(), N);
  ASSERT_EQ(p.sigma.cols(), 2);
  double var_total = 0, mean_sq = 0;
  for (Eigen::Index i = 0; i < N; ++i) {
    double var_arr[2] = {0, 0};
    for (Eigen::Index c = 0; c < 4; ++c) {
      double mu = 0;
      for (const auto& m : members) mu += m(i, c);
      mu /= K;
      double var = 0;
      for (const auto& m : members) var += (m(i, c) - mu) * (m(i, c) - mu);
      var /= K - 1;  // the sample variance over members
      EXPECT_NEAR(p.mean(i, c), mu, 1e-6);
      var_arr[c < 3 ? 0 : 1] += var;
      var_total += scale * scale * var;
      mean_sq += mu * mu;
    }
    EXPECT_NEAR(p.sigma(i, 0), scale * std::sqrt(var_arr[0] / 3), 1e-9);
    EXPECT_NEAR(p.sigma(i, 1), scale * std::sqrt(var_arr[1] / 1), 1e-9);
  }
  EXPECT_NEAR(p.score, std::sqrt(var_total / mean_sq), 1e-9);
}

TEST(EnsembleMath, IdenticalMembersGiveTheirPredictionBitForBitAndNoSpread) {
  std::mt19937_64 rng(6);
  const mesh::FeatureMatrix y = random_matrix(50, 3, rng);
  for (int K : {2, 3, 5}) {
    const EnsemblePrediction p = combine_predictions(std::vector<mesh::FeatureMatrix>(K, y), {3}, 2.0);
    EXPECT_TRUE(p.mean == y) << K << " members";
    EXPECT_EQ(p.sigma.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(p.score, 0.0);
  }
}

TEST(EnsembleMath, PartUncertaintyCountsValuesWithinTwoSigmaAndMatchesEvalRelL2) {
  mesh::FeatureMatrix mean(3, 2), truth(3, 2);
  mean << 1, 2, 3, 4, 5, 6;
  // Errors per value: 0.1, -0.3 | 0.5, 0 | 2.5, -1.9 ; σ per point 0.1, 0.25, 1.0.
  truth << 0.9, 2.3, 2.5, 4, 2.5, 7.9;
  const EnsemblePrediction p = with_sigma(mean, {0.1, 0.25, 1.0});
  const PartUncertainty u = part_uncertainty(p, truth, {2});
  EXPECT_EQ(u.values, 6);
  EXPECT_EQ(u.within_2sigma, 4);  // 0.1 <= 0.2; 0.3 > 0.2; 0.5 <= 0.5; 0; 2.5 > 2; 1.9 <= 2
  EXPECT_NEAR(u.rel_l2, sample_metrics(mean, truth).rel_l2, 1e-12);
  std::vector<double> ratios;
  append_error_ratios(p, truth, {2}, ratios);
  ASSERT_EQ(ratios.size(), 6u);
  EXPECT_NEAR(ratios[0], 1.0, 1e-6);
  EXPECT_NEAR(ratios[1], 3.0, 1e-6);
  EXPECT_NEAR(ratios[2], 2.0, 1e-6);
  EXPECT_EQ(ratios[3], 0.0);
  EXPECT_NEAR(ratios[4], 2.5, 1e-6);
}

TEST(EnsembleMath, ZeroSpreadGivesInfiniteRatiosWhereTheMeanErrs) {
  mesh::FeatureMatrix mean(2, 1), truth(2, 1);
  mean << 1, 2;
  truth << 1, 3;
  std::vector<double> ratios;
  append_error_ratios(with_sigma(mean, {0.0, 0.0}), truth, {1}, ratios);
  EXPECT_EQ(ratios[0], 0.0);
  EXPECT_TRUE(std::isinf(ratios[1]));
}

// Members that are 3x over-confident: the fitted scale undoes it, and on fresh data drawn the same
// way the ±2σ coverage is the Gaussian 95.45%.
TEST(EnsembleMath, FittedScaleGivesTheGaussianCoverageOnFreshData) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> spread(0.01, 2.0);
  std::normal_distribution<double> g(0.0, 1.0);
  const double true_factor = 3.0;
  auto draw = [&](Eigen::Index n) {
    std::vector<double> sigma(static_cast<std::size_t>(n));
    mesh::FeatureMatrix mean(n, 3), truth(n, 3);
    for (Eigen::Index i = 0; i < n; ++i) {
      sigma[std::size_t(i)] = spread(rng);
      for (int c = 0; c < 3; ++c) {
        mean(i, c) = float(10 * g(rng));
        truth(i, c) = float(mean(i, c) + true_factor * sigma[std::size_t(i)] * g(rng));
      }
    }
    return std::pair{with_sigma(mean, sigma), truth};
  };
  const auto [fit_p, fit_truth] = draw(40000);
  std::vector<double> ratios;
  append_error_ratios(fit_p, fit_truth, {3}, ratios);
  const double s = fit_sigma_scale(ratios);
  EXPECT_NEAR(s, true_factor, 0.05 * true_factor);

  auto [fresh, fresh_truth] = draw(40000);
  const PartUncertainty raw = part_uncertainty(fresh, fresh_truth, {3});
  fresh.sigma *= s;
  const PartUncertainty cal = part_uncertainty(fresh, fresh_truth, {3});
  const double coverage = double(cal.within_2sigma) / double(cal.values);
  EXPECT_NEAR(coverage, kTwoSigmaCoverage, 0.005);
  EXPECT_LT(double(raw.within_2sigma) / double(raw.values), 0.6) << "uncalibrated: over-confident";
}

TEST(EnsembleMath, FitReachesAtLeastTheTargetOnItsOwnValues) {
  std::vector<double> ratios;
  for (int i = 1; i <= 1000; ++i) ratios.push_back(double(i));
  std::vector<double> copy = ratios;
  const double s = fit_sigma_scale(copy);
  EXPECT_DOUBLE_EQ(s, 0.5 * 955);  // ceil(0.9545 * 1000) = 955th smallest
  const auto within = std::count_if(ratios.begin(), ratios.end(), [&](double r) { return r <= 2 * s; });
  EXPECT_EQ(within, 955);
  std::vector<double> none(10, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isinf(fit_sigma_scale(none)));
  std::vector<double> exact(10, 0.0);
  EXPECT_EQ(fit_sigma_scale(exact), 0.0);
}

TEST(EnsembleMath, ScoreScaleIsTheMedianRatioOfErrorToScore) {
  // ratios 2, 0.5, 4, 3 and a zero-score part that is skipped: median (2 + 3) / 2.
  const std::vector<PartUncertainty> parts = {
      {0.1, 0.2, 1, 1}, {0.4, 0.2, 1, 1}, {0.05, 0.2, 1, 1}, {0.1, 0.3, 1, 1}, {0.0, 0.9, 1, 1}};
  EXPECT_DOUBLE_EQ(fit_score_scale(parts), 2.5);
  EXPECT_DOUBLE_EQ(fit_score_scale({parts[0], parts[1], parts[2]}), 2.0);
  EXPECT_EQ(fit_score_scale({parts[4]}), 0.0);
}

// Ten good parts with scores 0.1 .. 1.0: the fitted threshold leaves exactly one (10%) above it;
// bad parts, however high their scores, do not move it.
TEST(EnsembleMath, WarnScoreLeavesTheFalseAlarmRateOfGoodPartsAboveIt) {
  std::vector<PartUncertainty> parts;
  for (int i = 10; i >= 1; --i) parts.push_back({0.1 * i, 0.05, 1, 1});
  parts.push_back({5.0, 0.9, 1, 1});
  parts.push_back({0.01, 0.7, 1, 1});
  const double t = fit_warn_score(parts);
  EXPECT_NEAR(t, 0.9, 1e-12);
  int above = 0;
  for (const auto& p : parts) above += p.rel_l2 < 0.2 && p.score > t;
  EXPECT_EQ(above, 1);
  EXPECT_NEAR(fit_warn_score(parts, 0.2, 0.3), 0.7, 1e-12);
  EXPECT_EQ(fit_warn_score({{0.5, 0.6, 1, 1}}), 0.0);  // no good part: nothing to fit on
}

TEST(Spearman, KnownValues) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 1000}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // No ties: 1 - 6 Σd² / (n (n² - 1)) with d = (-1, 1, -1, 1, 0): 1 - 24/120.
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}), 0.8, 1e-12);
  // Ties share their mean rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4) give 3/sqrt(10).
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 3.0 / std::sqrt(10.0), 1e-12);
  EXPECT_TRUE(std::isnan(spearman({1}, {2})));
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

TEST(CalibrationSummary, CountsWarningsByErrorBandAndPoolsCoverage) {
  // {score, rel_l2, values, within}
  const std::vector<PartUncertainty> parts = {{0.6, 0.7, 10, 9},  {0.2, 0.8, 10, 5},
                                              {0.5, 0.1, 10, 10}, {0.1, 0.05, 10, 10},
                                              {0.3, 0.3, 10, 8}};
  const CalibrationSummary s = summarize_calibration(parts, 0.35);
  EXPECT_EQ(s.parts, 5);
  EXPECT_EQ(s.bad_parts, 2);
  EXPECT_EQ(s.bad_warned, 1);
  EXPECT_EQ(s.good_parts, 2);
  EXPECT_EQ(s.good_warned, 1);
  EXPECT_DOUBLE_EQ(s.coverage, 42.0 / 50.0);
  EXPECT_NEAR(s.spearman, spearman({0.6, 0.2, 0.5, 0.1, 0.3}, {0.7, 0.8, 0.1, 0.05, 0.3}), 1e-15);
  const auto j = s.to_json();
  EXPECT_DOUBLE_EQ(j["warned_error_above_0_5"]["rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["warned_error_below_0_2"]["rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["coverage_2sigma"].get<double>(), 0.84);
  // An empty band has no rate; one part has no rank correlation.
  const auto one = summarize_calibration({{0.1, 0.3, 4, 4}}, 0.35).to_json();
  EXPECT_TRUE(one["warned_error_above_0_5"]["rate"].is_null());
  EXPECT_TRUE(one["spearman"].is_null());
}

TEST(EnsembleInfo, WarnsOnlyAboveItsThresholdWithTheNumbers) {
  EnsembleInfo e;
  e.members = 4;
  e.score_scale = 0.7;
  e.warn_score = 0.35;
  EXPECT_EQ(e.unreliable_reason(0.35), "");
  EXPECT_EQ(e.unreliable_reason(0.1), "");
  const std::string uncal = e.unreliable_reason(0.52);
  EXPECT_NE(uncal.find("0.52 > 0.35"), std::string::npos) << uncal;
  EXPECT_NE(uncal.find("4 ensemble members"), std::string::npos) << uncal;
  EXPECT_NE(uncal.find("uncalibrated"), std::string::npos) << uncal;
  e.calibration = {{"data", "data.h5"}, {"split", "val"}};
  const std::string cal = e.unreliable_reason(0.52);
  EXPECT_NE(cal.find("calibrated on the val split of data.h5"), std::string::npos) << cal;
  const EnsembleInfo back = EnsembleInfo::from_json(e.to_json(), "x.h5");
  EXPECT_EQ(back.members, 4);
  EXPECT_EQ(back.score_scale, 0.7);
  EXPECT_EQ(back.unreliable_reason(0.52), cal);
}
