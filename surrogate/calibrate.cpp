#include "surrogate/calibrate.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/progress.h"

namespace flare::surrogate {

std::vector<EnsembleSample> evaluate_ensemble(Predictor& predictor, const Dataset& data,
                                              const std::vector<std::int64_t>& ids,
                                              const char* label) {
  const auto& components = predictor.normalizer().target_components;
  std::vector<EnsembleSample> out;
  Progress progress(std::int64_t(ids.size()), label, "parts");
  for (std::int64_t s : ids) {
    const EnsemblePrediction p = predictor.infer_ensemble(data.features(s));
    const mesh::FeatureMatrix truth = data.targets(s);
    EnsembleSample e{sample_metrics(p.mean, truth), part_uncertainty(p, truth, components)};
    e.metrics.sample = s;
    out.push_back(std::move(e));
    progress.advance();
  }
  progress.finish();
  return out;
}

Calibration calibrate_ensemble(Predictor& predictor, const Dataset& data,
                               const std::vector<std::int64_t>& ids, double warn_score,
                               const std::string& data_name) {
  FLARE_CHECK(predictor.ensemble(), "calibrate_ensemble: the predictor holds a single model");
  FLARE_INPUT_CHECK(!ids.empty(), data_name, ": no samples to calibrate on (the split is empty); "
                    "choose another --split");
  const auto& components = predictor.normalizer().target_components;
  // Per part: its score and error at the current scale, and every value's |error| / σ, so the
  // fitted factor is applied without predicting again.
  std::vector<PartUncertainty> parts;
  std::vector<std::vector<double>> ratios;
  Progress progress(std::int64_t(ids.size()), "calibrate", "parts");
  for (std::int64_t s : ids) {
    const EnsemblePrediction p = predictor.infer_ensemble(data.features(s));
    const mesh::FeatureMatrix truth = data.targets(s);
    parts.push_back(part_uncertainty(p, truth, components));
    ratios.emplace_back();
    append_error_ratios(p, truth, components, ratios.back());
    progress.advance();
  }
  progress.finish();
  std::vector<double> all;
  for (const auto& r : ratios) all.insert(all.end(), r.begin(), r.end());
  const double factor = fit_sigma_scale(all);
  FLARE_INPUT_CHECK(std::isfinite(factor) && factor > 0, data_name, ": cannot calibrate on ",
                    ids.size(), " parts: ",
                    factor > 0 ? "the members agree exactly where their mean errs (identical "
                                 "members? train them with different --seed)"
                               : "the ensemble mean has no error on most values",
                    "");
  for (std::size_t k = 0; k < parts.size(); ++k) {
    parts[k].score *= factor;
    parts[k].within_2sigma = std::count_if(ratios[k].begin(), ratios[k].end(),
                                           [&](double r) { return r <= 2.0 * factor; });
  }
  const double score_factor = fit_score_scale(parts);
  FLARE_INPUT_CHECK(score_factor > 0, data_name, ": cannot calibrate the part score on ", ids.size(),
                    " parts: the ensemble mean is exact on every part with a spread");
  for (auto& p : parts) p.score *= score_factor;
  if (std::isnan(warn_score)) {
    warn_score = fit_warn_score(parts);
    FLARE_INPUT_CHECK(warn_score > 0, data_name, ": no part of the ", ids.size(),
                      " has a relative error below 0.2 to fit --warn-above auto on; give a number");
  }
  Calibration c;
  c.warn_score = warn_score;
  c.sigma_scale = predictor.ensemble()->sigma_scale * factor;
  c.score_scale = predictor.ensemble()->score_scale * score_factor;
  c.summary = summarize_calibration(parts, warn_score);
  return c;
}

}  // namespace flare::surrogate
