#include "surrogate/normalizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "surrogate/dataset.h"

namespace flare::surrogate {

namespace {

void affine(mesh::FeatureMatrix& x, const std::vector<double>& mean, const std::vector<double>& std,
            bool inverse) {
  FLARE_CHECK(std::size_t(x.cols()) == mean.size(), "normalizer: ", x.cols(), " columns, ",
              mean.size(), " statistics");
  for (Eigen::Index c = 0; c < x.cols(); ++c) {
    const float m = float(mean[c]), s = float(std[c]);
    if (inverse)
      x.col(c).array() = x.col(c).array() * s + m;
    else
      x.col(c).array() = (x.col(c).array() - m) / s;
  }
}

}  // namespace

void check_statistics(const std::vector<std::string>& names, const std::vector<double>& mean,
                      const std::vector<double>& std, const std::string& kind,
                      const std::string& source, const std::string& fix) {
  std::size_t bad = 0, first = 0;
  bool first_is_mean = false;
  for (std::size_t c = 0; c < mean.size() && c < std.size(); ++c) {
    const bool mean_bad = !std::isfinite(mean[c]), std_bad = !(std::isfinite(std[c]) && std[c] > 0);
    if ((mean_bad || std_bad) && bad++ == 0) {
      first = c;
      first_is_mean = mean_bad;
    }
  }
  if (bad == 0) return;
  const std::string name = first < names.size() ? names[first] : "#" + std::to_string(first);
  throw InputError(detail::concat(
      source, ": corrupt statistics: the ", kind, first_is_mean ? " mean" : " standard deviation",
      " of column '", name, "' is ", first_is_mean ? mean[first] : std[first],
      first_is_mean ? " (must be finite)" : " (must be finite and positive)", "; ", bad, " of ",
      mean.size(), " ", kind, " columns are affected; ", fix));
}

Normalizer Normalizer::from_dataset(const Dataset& d) {
  return {d.feature_mean(), d.feature_std(),  d.target_mean(),   d.target_std(),
          d.feature_names(), d.target_names(), d.target_arrays(), d.target_components()};
}

nlohmann::json Normalizer::to_json() const {
  return {{"feature_mean", feature_mean},   {"feature_std", feature_std},
          {"target_mean", target_mean},     {"target_std", target_std},
          {"feature_names", feature_names}, {"target_names", target_names},
          {"target_arrays", target_arrays}, {"target_components", target_components}};
}

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& source) {
  Normalizer n;
  try {
    j.at("feature_mean").get_to(n.feature_mean);
    j.at("feature_std").get_to(n.feature_std);
    j.at("target_mean").get_to(n.target_mean);
    j.at("target_std").get_to(n.target_std);
    j.at("feature_names").get_to(n.feature_names);
    j.at("target_names").get_to(n.target_names);
    j.at("target_arrays").get_to(n.target_arrays);
    j.at("target_components").get_to(n.target_components);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": the checkpoint has no usable normalizer (" + e.what() +
                     "); use a checkpoint written by `flare-surrogate train`");
  }
  int comps = 0;
  for (int c : n.target_components) comps += c;
  FLARE_INPUT_CHECK(n.feature_mean.size() == n.feature_std.size() &&
                        n.feature_mean.size() == n.feature_names.size() &&
                        n.target_mean.size() == n.target_std.size() &&
                        n.target_mean.size() == n.target_names.size() &&
                        std::size_t(comps) == n.target_names.size() &&
                        n.target_arrays.size() == n.target_components.size(),
                    source, ": the checkpoint's normalizer has inconsistent sizes");
  const std::string fix = "the checkpoint is damaged: retrain it or use another one";
  check_statistics(n.feature_names, n.feature_mean, n.feature_std, "feature", source, fix);
  check_statistics(n.target_names, n.target_mean, n.target_std, "target", source, fix);
  return n;
}

void Normalizer::normalize_features(mesh::FeatureMatrix& x) const {
  affine(x, feature_mean, feature_std, false);
}
void Normalizer::normalize_targets(mesh::FeatureMatrix& y) const {
  affine(y, target_mean, target_std, false);
}
void Normalizer::denormalize_targets(mesh::FeatureMatrix& y) const {
  affine(y, target_mean, target_std, true);
}

double statistics_difference(const Normalizer& a, const Normalizer& b) {
  if (a.feature_names != b.feature_names || a.target_names != b.target_names ||
      a.target_arrays != b.target_arrays || a.target_components != b.target_components ||
      a.feature_mean.size() != b.feature_mean.size() || a.target_mean.size() != b.target_mean.size())
    return std::numeric_limits<double>::infinity();
  double worst = 0;
  const auto compare = [&](const std::vector<double>& ma, const std::vector<double>& sa,
                           const std::vector<double>& mb, const std::vector<double>& sb) {
    for (std::size_t c = 0; c < mb.size(); ++c)
      worst = std::max({worst, std::abs(ma[c] - mb[c]) / sb[c], std::abs(sa[c] - sb[c]) / sb[c]});
  };
  compare(a.feature_mean, a.feature_std, b.feature_mean, b.feature_std);
  compare(a.target_mean, a.target_std, b.target_mean, b.target_std);
  return std::isnan(worst) ? std::numeric_limits<double>::infinity() : worst;
}

}  // namespace flare::surrogate
