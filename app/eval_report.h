// The three forms of `eval`'s report (table, --json, --csv), one Evaluation in, the same numbers
// out: rows per sample, the summary over all samples and, when part families are known, per family.
// An ensemble checkpoint adds each part's uncertainty score and ±2σ coverage, and the calibration
// summary (rank correlation, coverage, warning rates by error band; docs/uncertainty.md).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "surrogate/ensemble.h"
#include "surrogate/evaluate.h"
#include "surrogate/uncertainty.h"

namespace flare::app {

/// The rows of one evaluation: metrics[i].sample indexes `sources` and `families`.
struct Evaluation {
  std::vector<surrogate::SampleMetrics> metrics;
  std::vector<std::string> sources, families;  ///< file names and part families ("" unknown)
  std::vector<std::string> columns;            ///< target columns (displacement_x, ...)
  std::string what;                            ///< "test split", "3 meshes": the summary line
  nlohmann::json source_json;                  ///< the dataset path or the mesh list, for --json
  std::string split;                           ///< "" for meshes
  /// Ensembles only: uncertainty[k] belongs to metrics[k]; empty (and no ensemble) for one model.
  std::vector<surrogate::PartUncertainty> uncertainty;
  std::optional<surrogate::EnsembleInfo> ensemble;

  const std::string& source_of(std::int64_t sample) const { return sources[std::size_t(sample)]; }
  const std::string& family_of(std::int64_t sample) const { return families[std::size_t(sample)]; }
};

/// Summary rows of an evaluation (per family only when any family is known).
struct EvalSummary {
  surrogate::MetricsSummary all;
  std::vector<surrogate::FamilySummary> families;
  std::optional<surrogate::CalibrationSummary> calibration;  ///< ensembles only
};
EvalSummary summarize(const Evaluation& ev);

/// One table: a row per sample (samples = 1), then summary rows named in the sample column
/// (mean, median, max) for all samples (family "(all)") and for each family. An ensemble adds the
/// columns uncertainty_score, coverage_2sigma and warned (empty in summary rows). Written atomically.
void write_eval_csv(const std::filesystem::path& path, const Evaluation& ev, const EvalSummary& s);
nlohmann::json eval_json(const std::string& model, const Evaluation& ev, const EvalSummary& s);
void print_eval_table(const Evaluation& ev, const EvalSummary& s);

}  // namespace flare::app
