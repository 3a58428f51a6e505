#include "surrogate/evaluate.h"

#include <algorithm>
#include <cmath>

#include "surrogate/dataset.h"

namespace flare::surrogate {

mesh::FeatureMatrix predict_denormalized(Model<float>& model, const float* params,
                                         const Normalizer& norm, mesh::FeatureMatrix x) {
  norm.normalize_features(x);
  const std::int64_t offsets[2] = {0, x.rows()};
  mesh::FeatureMatrix y(x.rows(), Eigen::Index(norm.target_names.size()));
  model.infer_host(params, x.data(), offsets, 1, y.data());
  norm.denormalize_targets(y);
  return y;
}

SampleMetrics sample_metrics(const mesh::FeatureMatrix& pred, const mesh::FeatureMatrix& truth) {
  // Double accumulation: sums over a million points in float would lose the digits we report.
  double err2 = 0, ref2 = 0, abs_sum = 0, abs_max = 0;
  for (Eigen::Index i = 0; i < pred.rows(); ++i)
    for (Eigen::Index c = 0; c < pred.cols(); ++c) {
      const double e = double(pred(i, c)) - double(truth(i, c));
      err2 += e * e;
      ref2 += double(truth(i, c)) * truth(i, c);
      abs_sum += std::abs(e);
      abs_max = std::max(abs_max, std::abs(e));
    }
  SampleMetrics m;
  m.points = pred.rows();
  // An all-zero true field has no relative error; report the absolute norm instead of inf.
  m.rel_l2 = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  m.mae = abs_sum / double(std::max<Eigen::Index>(1, pred.size()));
  m.max_error = abs_max;
  return m;
}

std::vector<SampleMetrics> evaluate(Model<float>& model, const float* params,
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
  std::sort(r.begin(), r.end());
  const std::size_t n = r.size();
  s.median_rel_l2 = n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
  s.max_rel_l2 = r.back();
  return s;
}

}  // namespace flare::surrogate
