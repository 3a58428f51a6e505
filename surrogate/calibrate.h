// An ensemble checkpoint held against solved data: the per-part errors and uncertainty that
// `eval` reports, and the fit of the σ scale that `model ensemble --calibrate` stores
// (docs/uncertainty.md).
#pragma once

#include <cstdint>
#include <vector>

#include "surrogate/dataset.h"
#include "surrogate/evaluate.h"
#include "surrogate/predictor.h"
#include "surrogate/uncertainty.h"

namespace flare::surrogate {

/// One part scored by an ensemble: the errors of its member mean and its uncertainty.
struct EnsembleSample {
  SampleMetrics metrics;
  PartUncertainty uncertainty;
};

/// `predictor` (an ensemble) on samples `ids` of `data`, at the predictor's calibration scale;
/// metrics.sample is the dataset index. Shows progress as `label`.
std::vector<EnsembleSample> evaluate_ensemble(Predictor& predictor, const Dataset& data,
                                              const std::vector<std::int64_t>& ids,
                                              const char* label = "eval");

/// The σ scale fitted on samples `ids` and what it gives on them.
struct Calibration {
  double sigma_scale = 1;
  double score_scale = 1;
  double warn_score = 0;       ///< the one given, or fitted (fit_warn_score) when that was NaN
  CalibrationSummary summary;  ///< with the fitted scale, warnings counted at `warn_score`
};

/// Fits the scale that puts kTwoSigmaCoverage of the values of samples `ids` within ±2σ
/// (fit_sigma_scale), then the score scale that maps the parts' scores onto their rel-L2
/// (fit_score_scale); both relative to the predictor's current scales, so they need not be 1.
/// A NaN warn_score is fitted too (fit_warn_score).
/// InputError
/// naming `data_name` when no finite positive scale exists: the members agree exactly where the
/// mean errs (identical members), or the mean is exact everywhere.
Calibration calibrate_ensemble(Predictor& predictor, const Dataset& data,
                               const std::vector<std::int64_t>& ids, double warn_score,
                               const std::string& data_name);

}  // namespace flare::surrogate
