// Per-channel normalisation of features and targets with the TRAIN split's statistics, stored in
// every checkpoint (slot `normalizer`) with the target names so eval and predict undo exactly what
// training did.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mesh/features.h"

namespace flare::surrogate {

class Dataset;

/// Throws InputError "`source`: corrupt statistics: ..." naming the first bad column when a mean
/// is not finite or a standard deviation is not finite and positive: dividing by it would turn
/// every feature into inf or NaN. `kind` is "feature" or "target"; `fix` ends the message.
/// (dataset build stores 1, never 0, for a constant channel, so a 0 means a damaged file.)
void check_statistics(const std::vector<std::string>& names, const std::vector<double>& mean,
                      const std::vector<double>& std, const std::string& kind,
                      const std::string& source, const std::string& fix);

struct Normalizer {
  std::vector<double> feature_mean, feature_std;  ///< [F]
  std::vector<double> target_mean, target_std;    ///< [T]
  std::vector<std::string> feature_names;         ///< [F] column names
  std::vector<std::string> target_names;          ///< [T] column names (displacement_0, ...)
  std::vector<std::string> target_arrays;         ///< point arrays predicted, in column order
  std::vector<int> target_components;             ///< components of each target array

  static Normalizer from_dataset(const Dataset& d);
  nlohmann::json to_json() const;
  /// Throws InputError naming `source` when a key is missing, the sizes disagree or the statistics
  /// are not usable (check_statistics).
  static Normalizer from_json(const nlohmann::json& j, const std::string& source);

  /// In place: x [N, F] ← (x − mean) / std.
  void normalize_features(mesh::FeatureMatrix& x) const;
  /// In place: y [N, T] ← (y − mean) / std.
  void normalize_targets(mesh::FeatureMatrix& y) const;
  /// In place: y [N, T] ← y · std + mean.
  void denormalize_targets(mesh::FeatureMatrix& y) const;
};

/// How far apart two normalizers are: the largest |Δmean| / std and |Δstd| / std over all
/// channels (std of `b`), 0 when equal, infinity when their channels differ. Round-off in a
/// rebuild of the same parts would land near 1e-7; another dataset from the same generator lands
/// near 1e-2.
double statistics_difference(const Normalizer& a, const Normalizer& b);

/// Largest statistics_difference at which two datasets count as rebuilds of one another.
inline constexpr double kRebuiltDatasetTolerance = 1e-4;

}  // namespace flare::surrogate
