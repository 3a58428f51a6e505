// Per-point uncertainty from a deep ensemble, and how well it is calibrated (docs/uncertainty.md).
// Pure math on predictions in target units: no I/O, no model. Predictor and `eval` feed it the
// members' predictions; `model ensemble --calibrate` fits the scale with it.
//
// Definitions (K members, T target columns grouped into target arrays):
//   mean     μ_ic = (1/K) Σ_k y_kic
//   sigma    σ_ia = s · sqrt( (1/|a|) Σ_{c in a} (1/(K−1)) Σ_k (y_kic − μ_ic)² )   per point i and
//            target array a: the RMS over the array's components of the members' sample standard
//            deviation, times the calibration scale s. One number per point and array, so ParaView
//            colours by it directly and eval's ±2σ test applies it to every component.
//   score    sqrt(Σ_i Σ_c σ_i,a(c)²) / ‖μ‖₂: the relative L2 error the part would have if each value
//            erred by a zero-mean Gaussian of std σ, i.e. an estimate of eval's rel-L2 (an all-zero
//            mean gives the absolute norm, as eval's rel-L2 does for an all-zero truth). A
//            calibrated checkpoint multiplies it by its own score scale (fit_score_scale): with
//            heavy-tailed errors the σ that covers 95% of the values does not also give the
//            part's L2 norm, and the warning threshold is in units of the real rel-L2.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "mesh/features.h"

namespace flare::surrogate {

/// Two-sided Gaussian probability mass within ±2σ: the ±2σ coverage of a calibrated σ.
inline constexpr double kTwoSigmaCoverage = 0.9544997361036416;

using SigmaMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct EnsemblePrediction {
  mesh::FeatureMatrix mean;  ///< [N, T] member mean, target units
  SigmaMatrix sigma;         ///< [N, A] σ per point and target array, target units
  double score = 0;          ///< estimated relative L2 error of `mean`
};

/// Mean, σ and score of `members` (K >= 2, each [N, T]); `components` [A] splits the T columns into
/// target arrays (sum = T); `scale` is the calibration factor s. The mean is accumulated in double,
/// so K identical members give back their prediction bit for bit.
EnsemblePrediction combine_predictions(const std::vector<mesh::FeatureMatrix>& members,
                                       const std::vector<int>& components, double scale);

/// One part's uncertainty held against its truth [N, T].
struct PartUncertainty {
  double score = 0;                ///< as predicted, with the scale in force
  double rel_l2 = 0;               ///< actual rel-L2 of the mean (as eval computes it)
  std::int64_t values = 0;         ///< N·T
  std::int64_t within_2sigma = 0;  ///< values with |μ − y| <= 2σ of their point and array
};
PartUncertainty part_uncertainty(const EnsemblePrediction& p, const mesh::FeatureMatrix& truth,
                                 const std::vector<int>& components);

/// |μ − y| / σ of every value, appended to `out` (a zero error counts 0 even where σ = 0; a
/// non-zero error where σ = 0 counts +inf: no scale can cover it).
void append_error_ratios(const EnsemblePrediction& p, const mesh::FeatureMatrix& truth,
                         const std::vector<int>& components, std::vector<double>& out);

/// The calibration scale s: the smallest factor that puts kTwoSigmaCoverage of the values within
/// ±2sσ, i.e. half the 95.45% quantile of the error ratios (raw σ, s = 1). Returns 0 or +inf when
/// no finite positive scale exists (no errors at all, or errors where the members agree exactly);
/// callers refuse those. `ratios` is reordered.
double fit_sigma_scale(std::vector<double>& ratios);

/// The factor that maps part scores onto their real errors: the median over `parts` of
/// rel_l2 / score (parts with a zero score are skipped). The median, not a mean, so one part the
/// ensemble is blind to cannot move it; a ratio, so the threshold keeps its meaning across parts
/// of any error size. Returns 0 when no part has a positive score.
double fit_score_scale(const std::vector<PartUncertainty>& parts);

/// `model ensemble --warn-above auto`: the smallest threshold that at most `false_alarm` of the
/// parts the model gets right (rel-L2 < `good`) exceed, from calibrated scores. It fixes the false
/// alarms on good parts and catches as many bad ones as the scores allow; a threshold set by hand
/// (0.35 by default) caught 4 of 9 test parts above 0.5 on the bundled model. 0 when no part is
/// good.
double fit_warn_score(const std::vector<PartUncertainty>& parts, double good = 0.2, double false_alarm = 0.1);

/// Spearman rank correlation of a and b (equal sizes): the Pearson correlation of their ranks,
/// ties getting their average rank. NaN with fewer than 2 values or when either is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

/// Error bands of the warning rates (the targets: warn on parts worse than 0.5, stay
/// quiet on parts better than 0.2).
inline constexpr double kBadPartRelL2 = 0.5;
inline constexpr double kGoodPartRelL2 = 0.2;

/// How well part scores and point σ track the real errors over a set of parts.
struct CalibrationSummary {
  std::int64_t parts = 0;
  double spearman = 0;     ///< rank correlation of score and rel-L2 over parts; NaN if undefined
  double coverage = 0;     ///< fraction of all values within ±2σ (pooled over parts)
  double warn_score = 0;   ///< the threshold the warnings were counted with
  std::int64_t bad_parts = 0, bad_warned = 0;    ///< rel-L2 > kBadPartRelL2, and of those warned
  std::int64_t good_parts = 0, good_warned = 0;  ///< rel-L2 < kGoodPartRelL2, and of those warned

  /// {parts, spearman, coverage_2sigma, warn_score, warned_error_above_0_5 {parts, warned, rate},
  /// warned_error_below_0_2 {...}}; NaN and empty-band rates are null.
  nlohmann::json to_json() const;
};
/// A part is warned when its score exceeds `warn_score`.
CalibrationSummary summarize_calibration(const std::vector<PartUncertainty>& parts,
                                         double warn_score);

}  // namespace flare::surrogate
