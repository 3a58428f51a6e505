// Error metrics of a model on dataset samples, in target units (denormalised): shared by the
// trainer's validation and `flare-surrogate eval`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mesh/features.h"
#include "surrogate/model.h"
#include "surrogate/normalizer.h"

namespace flare::surrogate {

class Dataset;

struct SampleMetrics {
  std::int64_t sample = 0;  ///< index in the dataset
  std::int64_t points = 0;
  double rel_l2 = 0;        ///< ‖ŷ − y‖ / ‖y‖ over all points and target columns
  double mae = 0;           ///< mean |ŷ − y| over all points and target columns
  double max_error = 0;     ///< max |ŷ − y|
  /// [T] ‖ŷ_c − y_c‖ / ‖y_c‖ of each target column c (e.g. displacement_z alone: the distortion
  /// along the build direction, which a small vector error can hide).
  std::vector<double> component_rel_l2;
};

struct MetricsSummary {
  double mean_rel_l2 = 0, median_rel_l2 = 0, max_rel_l2 = 0, mean_mae = 0, max_error = 0;
  std::vector<double> mean_component_rel_l2, median_component_rel_l2;  ///< [T]
};

/// Rel-L2 statistics of one group of samples (one part family, or all).
struct FamilySummary {
  std::string family;
  std::int64_t samples = 0;
  double mean_rel_l2 = 0, median_rel_l2 = 0;
  std::vector<double> mean_component_rel_l2, median_component_rel_l2;  ///< [T]
};

/// Names of the target columns in metric reports: a 3-component array a gives a_x, a_y, a_z (the
/// axes users read off ParaView), other arrays a (scalar) or a_0, a_1, ... as in the dataset.
std::vector<std::string> metric_column_names(const std::vector<std::string>& arrays,
                                             const std::vector<int>& components);

/// Normalised model prediction for one mesh's raw features x [N, F], returned in target units
/// [N, T]. params [P] live in the model's op-table memory (device memory for CUDA). A = float or
/// Bf16 (the activation precision; params and results are fp32 either way).
template <typename A>
mesh::FeatureMatrix predict_denormalized(Model<A, float>& model, const float* params,
                                         const Normalizer& norm, mesh::FeatureMatrix x);

/// Metrics of one prediction pred [N, T] against truth [N, T], both in target units.
SampleMetrics sample_metrics(const mesh::FeatureMatrix& pred, const mesh::FeatureMatrix& truth);

/// ‖ŷ − y‖/‖y‖ from Σ(ŷ − y)² and Σy² (the error norm itself when the truth is zero), as
/// SampleMetrics::rel_l2: a point-sharded validation sums both over the ranks first.
double relative_l2(double err2, double ref2);

/// Metrics of each sample in `samples`, one inference per sample.
template <typename A>
std::vector<SampleMetrics> evaluate(Model<A, float>& model, const float* params,
                                    const Normalizer& norm, const Dataset& data,
                                    const std::vector<std::int64_t>& samples);

/// InputError (starting "`command`: ") unless dataset `data` (file `data_name`) can be scored by
/// the checkpoint `model` (its normalizer and feature recipe, recipe JSON null = not recorded): the
/// same feature and target columns and the same coordinate normalisation, so the stored features
/// mean what the model saw.
void check_dataset_matches(const std::string& command, const std::string& model, const Normalizer& norm,
                           const nlohmann::json& feature_recipe, const Dataset& data,
                           const std::string& data_name);

/// Mean/median/max over samples (zeros when empty).
MetricsSummary summarize(const std::vector<SampleMetrics>& m);

/// One summary per distinct family of the evaluated samples, sorted by family name;
/// `families[m.sample]` is sample m's family ("" when unknown, grouped like any other name).
std::vector<FamilySummary> summarize_by_family(const std::vector<SampleMetrics>& m,
                                               const std::vector<std::string>& families);

}  // namespace flare::surrogate
