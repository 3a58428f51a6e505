#include "surrogate/uncertainty.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace flare::surrogate {

namespace {

// Column -> target array index, checking that `components` covers the T columns exactly.
std::vector<int> array_of_column(const std::vector<int>& components, Eigen::Index T) {
  std::vector<int> out;
  for (std::size_t a = 0; a < components.size(); ++a)
    for (int c = 0; c < components[a]; ++c) out.push_back(int(a));
  FLARE_CHECK(Eigen::Index(out.size()) == T, "uncertainty: target arrays cover ", out.size(),
              " columns, the prediction has ", T);
  return out;
}

void check_truth(const EnsemblePrediction& p, const mesh::FeatureMatrix& truth) {
  FLARE_CHECK(truth.rows() == p.mean.rows() && truth.cols() == p.mean.cols() &&
                  p.sigma.rows() == p.mean.rows(),
              "uncertainty: prediction [", p.mean.rows(), ", ", p.mean.cols(), "] against truth [",
              truth.rows(), ", ", truth.cols(), "]");
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = 0.5 * double(i + j) + 1.0;  // ties share the mean of their 1-based ranks
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

}  // namespace

EnsemblePrediction combine_predictions(const std::vector<mesh::FeatureMatrix>& members,
                                       const std::vector<int>& components, double scale) {
  FLARE_CHECK(members.size() >= 2, "combine_predictions: an ensemble needs 2 or more members, got ",
              members.size());
  const Eigen::Index N = members[0].rows(), T = members[0].cols();
  for (const auto& m : members)
    FLARE_CHECK(m.rows() == N && m.cols() == T, "combine_predictions: members of different shapes");
  const std::vector<int> array = array_of_column(components, T);
  const double K = double(members.size());
  EnsemblePrediction p;
  p.mean.resize(N, T);
  p.sigma = SigmaMatrix::Zero(N, Eigen::Index(components.size()));
  double var_sum = 0, mean_sq = 0;
#pragma omp parallel for schedule(static) reduction(+ : var_sum, mean_sq)
  for (Eigen::Index i = 0; i < N; ++i) {
    for (Eigen::Index c = 0; c < T; ++c) {
      double sum = 0;
      for (const auto& m : members) sum += double(m(i, c));
      const double mu = sum / K;
      double ss = 0;
      for (const auto& m : members) ss += (double(m(i, c)) - mu) * (double(m(i, c)) - mu);
      p.mean(i, c) = float(mu);
      p.sigma(i, array[std::size_t(c)]) += ss / (K - 1.0);
      mean_sq += mu * mu;
    }
    for (Eigen::Index a = 0; a < p.sigma.cols(); ++a) {
      var_sum += scale * scale * p.sigma(i, a);
      p.sigma(i, a) = scale * std::sqrt(p.sigma(i, a) / double(components[std::size_t(a)]));
    }
  }
  p.score = mean_sq > 0 ? std::sqrt(var_sum / mean_sq) : std::sqrt(var_sum);
  return p;
}

PartUncertainty part_uncertainty(const EnsemblePrediction& p, const mesh::FeatureMatrix& truth,
                                 const std::vector<int>& components) {
  check_truth(p, truth);
  const std::vector<int> array = array_of_column(components, p.mean.cols());
  PartUncertainty u;
  u.score = p.score;
  u.values = p.mean.size();
  double err2 = 0, ref2 = 0;
  for (Eigen::Index i = 0; i < p.mean.rows(); ++i)
    for (Eigen::Index c = 0; c < p.mean.cols(); ++c) {
      const double e = double(p.mean(i, c)) - double(truth(i, c));
      err2 += e * e;
      ref2 += double(truth(i, c)) * double(truth(i, c));
      if (std::abs(e) <= 2.0 * p.sigma(i, array[std::size_t(c)])) ++u.within_2sigma;
    }
  u.rel_l2 = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  return u;
}

void append_error_ratios(const EnsemblePrediction& p, const mesh::FeatureMatrix& truth,
                         const std::vector<int>& components, std::vector<double>& out) {
  check_truth(p, truth);
  const std::vector<int> array = array_of_column(components, p.mean.cols());
  out.reserve(out.size() + std::size_t(p.mean.size()));
  for (Eigen::Index i = 0; i < p.mean.rows(); ++i)
    for (Eigen::Index c = 0; c < p.mean.cols(); ++c) {
      const double e = std::abs(double(p.mean(i, c)) - double(truth(i, c)));
      const double s = p.sigma(i, array[std::size_t(c)]);
      out.push_back(e == 0 ? 0.0 : s > 0 ? e / s : std::numeric_limits<double>::infinity());
    }
}

double fit_sigma_scale(std::vector<double>& ratios) {
  FLARE_CHECK(!ratios.empty(), "fit_sigma_scale: no values");
  // The k-th smallest ratio with k = ceil(q n): exactly k of n values then lie within ±2sσ.
  const auto k = std::size_t(std::ceil(kTwoSigmaCoverage * double(ratios.size())));
  const auto nth = ratios.begin() + std::ptrdiff_t(std::max<std::size_t>(k, 1) - 1);
  std::nth_element(ratios.begin(), nth, ratios.end());
  return 0.5 * *nth;
}

double fit_score_scale(const std::vector<PartUncertainty>& parts) {
  std::vector<double> r;
  for (const auto& p : parts)
    if (p.score > 0 && std::isfinite(p.score)) r.push_back(p.rel_l2 / p.score);
  if (r.empty()) return 0.0;
  std::sort(r.begin(), r.end());
  const std::size_t n = r.size();
  return n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
}

double fit_warn_score(const std::vector<PartUncertainty>& parts, double good, double false_alarm) {
  std::vector<double> s;
  for (const auto& p : parts)
    if (p.rel_l2 < good && std::isfinite(p.score)) s.push_back(p.score);
  if (s.empty()) return 0.0;
  std::sort(s.begin(), s.end());
  // Warnings are score > threshold: the k-th smallest leaves n - k - 1 <= false_alarm n above it.
  const auto k = std::size_t(std::ceil((1.0 - false_alarm) * double(s.size()))) - 1;
  return s[std::min(k, s.size() - 1)];
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  FLARE_CHECK(a.size() == b.size(), "spearman: ", a.size(), " against ", b.size(), " values");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (a.size() < 2) return nan;
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = double(a.size()), mean = (n + 1.0) / 2.0;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : nan;
}

CalibrationSummary summarize_calibration(const std::vector<PartUncertainty>& parts,
                                         double warn_score) {
  CalibrationSummary s;
  s.parts = std::int64_t(parts.size());
  s.warn_score = warn_score;
  std::vector<double> score, err;
  std::int64_t values = 0, within = 0;
  for (const auto& p : parts) {
    score.push_back(p.score);
    err.push_back(p.rel_l2);
    values += p.values;
    within += p.within_2sigma;
    const bool warned = p.score > warn_score;
    if (p.rel_l2 > kBadPartRelL2) {
      ++s.bad_parts;
      s.bad_warned += warned;
    }
    if (p.rel_l2 < kGoodPartRelL2) {
      ++s.good_parts;
      s.good_warned += warned;
    }
  }
  s.spearman = spearman(score, err);
  s.coverage = values > 0 ? double(within) / double(values) : 0.0;
  return s;
}

nlohmann::json CalibrationSummary::to_json() const {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  auto band = [](std::int64_t n, std::int64_t warned) {
    return nlohmann::json{{"parts", n},
                          {"warned", warned},
                          {"rate", n > 0 ? nlohmann::json(double(warned) / double(n)) : nlohmann::json()}};
  };
  return {{"parts", parts},
          {"spearman", number(spearman)},
          {"coverage_2sigma", coverage},
          {"warn_score", warn_score},
          {"warned_error_above_0_5", band(bad_parts, bad_warned)},
          {"warned_error_below_0_2", band(good_parts, good_warned)}};
}

}  // namespace flare::surrogate
