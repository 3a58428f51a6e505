#include "surrogate/evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"
#include "surrogate/dataset.h"

namespace flare::surrogate {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// An all-zero true field has no relative error; report the absolute norm instead of inf.
double relative(double err2, double ref2) { return ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2); }

// Mean and median of each component's rel-L2 over `m`.
void component_stats(const std::vector<const SampleMetrics*>& m, std::vector<double>& means,
                     std::vector<double>& medians) {
  const std::size_t T = m.empty() ? 0 : m.front()->component_rel_l2.size();
  means.assign(T, 0.0);
  medians.assign(T, 0.0);
  for (std::size_t c = 0; c < T; ++c) {
    std::vector<double> v;
    for (const auto* x : m) v.push_back(x->component_rel_l2[c]);
    means[c] = mean(v);
    medians[c] = median(v);
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

void check_dataset_matches(const std::string& command, const std::string& model, const Normalizer& norm,
                           const nlohmann::json& feature_recipe, const Dataset& d,
                           const std::string& data) {
  FLARE_INPUT_CHECK(norm.feature_names == d.feature_names(), command, ": ", model, " was trained on features [",
                    join(norm.feature_names), "] but ", data, " has [", join(d.feature_names()),
                    "]; rebuild the dataset with the model's inputs or use a matching model");
  FLARE_INPUT_CHECK(norm.target_names == d.target_names(), command, ": ", model, " predicts [",
                    join(norm.target_names), "] but ", data, " has targets [",
                    join(d.target_names()), "]; use a dataset built with the same --target");
  FLARE_INPUT_CHECK(feature_recipe.is_null() ||
                        mesh::FeatureRecipe::from_json(feature_recipe, model).to_json() ==
                            d.recipe().to_json(),
                    command, ": ", data, " normalises its features differently from ", model,
                    " (another training set fixed its origin and length scale); evaluate on the "
                    "solved meshes instead: flare-surrogate eval -m ", model, " MESH...");
}

std::vector<std::string> metric_column_names(const std::vector<std::string>& arrays,
                                             const std::vector<int>& components) {
  static const char* kAxis[3] = {"x", "y", "z"};
  std::vector<std::string> out;
  for (std::size_t a = 0; a < arrays.size() && a < components.size(); ++a) {
    const int k = components[a];
    if (k == 1) out.push_back(arrays[a]);
    for (int c = 0; c < k && k > 1; ++c)
      out.push_back(arrays[a] + "_" + (k == 3 ? std::string(kAxis[c]) : std::to_string(c)));
  }
  return out;
}

template <typename A>
mesh::FeatureMatrix predict_denormalized(Model<A, float>& model, const float* params,
                                         const Normalizer& norm, mesh::FeatureMatrix x) {
  norm.normalize_features(x);
  const std::int64_t offsets[2] = {0, x.rows()};
  mesh::FeatureMatrix y(x.rows(), Eigen::Index(norm.target_names.size()));
  model.infer_host(params, x.data(), offsets, 1, y.data());
  norm.denormalize_targets(y);
  return y;
}

double relative_l2(double err2, double ref2) { return relative(err2, ref2); }

SampleMetrics sample_metrics(const mesh::FeatureMatrix& pred, const mesh::FeatureMatrix& truth) {
  // Double accumulation: sums over a million points in float would lose the digits we report.
  std::vector<double> err2(pred.cols(), 0.0), ref2(pred.cols(), 0.0);
  double abs_sum = 0, abs_max = 0;
  for (Eigen::Index i = 0; i < pred.rows(); ++i)
    for (Eigen::Index c = 0; c < pred.cols(); ++c) {
      const double e = double(pred(i, c)) - double(truth(i, c));
      err2[c] += e * e;
      ref2[c] += double(truth(i, c)) * truth(i, c);
      abs_sum += std::abs(e);
      abs_max = std::max(abs_max, std::abs(e));
    }
  SampleMetrics m;
  m.points = pred.rows();
  double err_all = 0, ref_all = 0;
  for (Eigen::Index c = 0; c < pred.cols(); ++c) {
    m.component_rel_l2.push_back(relative(err2[c], ref2[c]));
    err_all += err2[c];
    ref_all += ref2[c];
  }
  m.rel_l2 = relative(err_all, ref_all);
  m.mae = abs_sum / double(std::max<Eigen::Index>(1, pred.size()));
  m.max_error = abs_max;
  return m;
}

template <typename A>
std::vector<SampleMetrics> evaluate(Model<A, float>& model, const float* params,
                                    const Normalizer& norm, const Dataset& data,
                                    const std::vector<std::int64_t>& samples) {
  std::vector<SampleMetrics> out;
  for (std::int64_t s : samples) {
    SampleMetrics m =
        sample_metrics(predict_denormalized(model, params, norm, data.features(s)), data.targets(s));
    m.sample = s;
    out.push_back(m);
  }
  return out;
}

template mesh::FeatureMatrix predict_denormalized(Model<float>&, const float*, const Normalizer&,
                                                  mesh::FeatureMatrix);
template mesh::FeatureMatrix predict_denormalized(Model<Bf16, float>&, const float*,
                                                  const Normalizer&, mesh::FeatureMatrix);
template std::vector<SampleMetrics> evaluate(Model<float>&, const float*, const Normalizer&,
                                             const Dataset&, const std::vector<std::int64_t>&);
template std::vector<SampleMetrics> evaluate(Model<Bf16, float>&, const float*, const Normalizer&,
                                             const Dataset&, const std::vector<std::int64_t>&);

MetricsSummary summarize(const std::vector<SampleMetrics>& m) {
  MetricsSummary s;
  if (m.empty()) return s;
  std::vector<double> r;
  for (const auto& x : m) {
    r.push_back(x.rel_l2);
    s.mean_rel_l2 += x.rel_l2;
    s.mean_mae += x.mae;
    s.max_error = std::max(s.max_error, x.max_error);
  }
  s.mean_rel_l2 /= double(m.size());
  s.mean_mae /= double(m.size());
  s.median_rel_l2 = median(r);
  s.max_rel_l2 = *std::max_element(r.begin(), r.end());
  std::vector<const SampleMetrics*> all;
  for (const auto& x : m) all.push_back(&x);
  component_stats(all, s.mean_component_rel_l2, s.median_component_rel_l2);
  return s;
}

std::vector<FamilySummary> summarize_by_family(const std::vector<SampleMetrics>& m,
                                               const std::vector<std::string>& families) {
  std::map<std::string, std::vector<const SampleMetrics*>> groups;
  for (const auto& x : m) {
    const bool known = x.sample >= 0 && x.sample < std::int64_t(families.size());
    groups[known ? families[x.sample] : std::string()].push_back(&x);
  }
  std::vector<FamilySummary> out;
  for (const auto& [family, members] : groups) {
    FamilySummary f;
    f.family = family;
    f.samples = std::int64_t(members.size());
    std::vector<double> r;
    for (const auto* x : members) r.push_back(x->rel_l2);
    f.mean_rel_l2 = mean(r);
    f.median_rel_l2 = median(r);
    component_stats(members, f.mean_component_rel_l2, f.median_component_rel_l2);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace flare::surrogate
