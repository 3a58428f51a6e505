// Deep-ensemble checkpoints (docs/uncertainty.md): K >= 2 models of one config, feature recipe,
// normalisation and training domain, trained separately with different seeds (so they can run
// as concurrent processes on one GPU) and combined into one file by `model ensemble`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "surrogate/checkpoint.h"
#include "surrogate/uncertainty.h"

namespace flare::surrogate {

/// Default threshold on the part score (the estimated relative L2 error) above which `predict`
/// warns: between the bands, quiet below 0.2 and warning above 0.5.
inline constexpr double kDefaultWarnScore = 0.35;

/// What a checkpoint's `ensemble` slot holds.
struct EnsembleInfo {
  int members = 0;
  double sigma_scale = 1;  ///< calibration factor s of σ (1 until calibrated)
  double score_scale = 1;  ///< factor on the part score (fit_score_scale; 1 until calibrated)
  double warn_score = kDefaultWarnScore;
  std::vector<std::string> sources;  ///< the member checkpoints' file names, in member order
  /// null until `model ensemble --calibrate`; then {data, split, summary (CalibrationSummary)}.
  nlohmann::json calibration;

  bool calibrated() const { return !calibration.is_null(); }
  nlohmann::json to_json() const;
  /// InputError naming `source` when the JSON is not an ensemble record or its numbers are unusable.
  static EnsembleInfo from_json(const nlohmann::json& j, const std::string& source);

  /// Empty when `score` is at most warn_score; otherwise the sentence for predict's warning line,
  /// with both numbers and where the scale came from.
  std::string unreliable_reason(double score) const;
};

/// One checkpoint of the members' weights (members[0] supplies every other slot). InputError naming
/// the first member (by its file name, the pair's first) whose config, feature recipe, normaliser,
/// training domain or target layout differs from members[0]'s, that is itself an ensemble, or that
/// cannot predict (no normaliser or recipe). Needs 2 or more members. Identical weights are allowed
/// (they add no spread) but reported in `warnings`, one line each.
Checkpoint combine_checkpoints(const std::vector<std::pair<std::string, Checkpoint>>& members,
                               std::vector<std::string>* warnings = nullptr);

}  // namespace flare::surrogate
