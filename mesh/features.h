// Per-point input features for the surrogate, built from a FeatureRecipe.
//
// A recipe is stored in every dataset and checkpoint, so `predict` builds exactly the features the
// model was trained on. All lengths are normalised by one rule fixed in the recipe (origin and
// length scale, usually fitted once on the training set), never per mesh, so the same point gets
// the same feature in every file.
//
// Feature kinds (columns in recipe order):
//   coords             3  (x - origin) / length_scale
//   boundary_distance  1  signed distance to the boundary surface / length_scale: NEGATIVE inside
//                         a volume mesh, zero on its boundary, positive outside; points not used
//                         by any volume cell take the side of the nearest face's plane. On a
//                         surface mesh inside is undefined and the distance is unsigned (>= 0).
//   boundary_normal    3  outward unit normal of the nearest boundary triangle (quads are split
//                         in two; on edges and corners the lowest-index nearest face wins)
//   height             1  (z - z_min of this mesh) / length_scale: height above the build plate
//   array:<name>       k  the point array <name> of the mesh, all its k components, unscaled
#pragma once

#include <Eigen/Core>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "mesh/mesh.h"

namespace flare::mesh {

/// #N by F, row-major float: one row per point, one column per feature channel.
using FeatureMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct FeatureRecipe {
  static constexpr int kVersion = 1;
  /// Ordered feature specs: "coords", "boundary_distance", "boundary_normal", "height",
  /// "array:<name>".
  std::vector<std::string> features;
  Eigen::Vector3d origin = Eigen::Vector3d::Zero();  ///< subtracted from coordinates
  double length_scale = 1.0;                         ///< divides every length feature

  /// coords, boundary_distance, boundary_normal, height, then array:<name> for each input array.
  static FeatureRecipe default_recipe(const std::vector<std::string>& input_arrays = {});

  /// Throws InputError on unknown kinds, duplicates, or a non-positive/non-finite length scale.
  void validate() const;
  /// Column names (coord_x, ..., normal_z, <array> or <array>_<k>) for `mesh`'s array widths.
  std::vector<std::string> column_names(const Mesh& mesh) const;
  /// The point arrays the recipe reads.
  std::vector<std::string> input_arrays() const;

  nlohmann::json to_json() const;
  /// Throws InputError naming `source` when the JSON is not a valid recipe.
  static FeatureRecipe from_json(const nlohmann::json& j, const std::string& source = "recipe");
};

/// Axis-aligned bounds of points, accumulated over several meshes.
struct Bounds {
  Eigen::Vector3d lo = Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity());
  Eigen::Vector3d hi = -lo;
  void extend(const Points& points);
  bool empty() const { return !(lo.array() <= hi.array()).all(); }
};

/// Sets origin to the centre of `b` and length_scale to half its largest extent, so training
/// coordinates fall in [-1, 1]. Throws InputError when the bounds are empty or have zero size.
void fit_normalization(FeatureRecipe& recipe, const Bounds& b);

/// Computes the recipe's features on `mesh`.
/// @param[in]  mesh          validated mesh (#N points)
/// @param[in]  recipe        features and normalisation
/// @param[out] column_names  if not null, receives the F column names
/// @param[in]  source        file name used in error messages
/// @return #N by F. Throws InputError naming `source` when the mesh cannot provide a feature
/// (missing or non-finite array, no cells for boundary features).
FeatureMatrix compute_features(const Mesh& mesh, const FeatureRecipe& recipe,
                               std::vector<std::string>* column_names = nullptr,
                               const std::string& source = "mesh");

/// Where a feature or target matrix stops being finite: NaN and ±inf are never valid model inputs
/// or truths (float32 rows; a double beyond ~3.4e38 becomes inf when stored).
struct NonFinite {
  std::int64_t count = 0;      ///< non-finite entries in all (0: every entry is finite)
  std::int64_t row = -1;       ///< the first one, in row-major order
  std::int64_t column = -1;
  float value = 0;
  /// "column 'NAME' is nan at point ROW (COUNT non-finite values)"; `columns` names the columns.
  std::string describe(const std::vector<std::string>& columns) const;
};

/// Scans x [N, C] for NaN and ±inf.
NonFinite find_non_finite(const FeatureMatrix& x);

}  // namespace flare::mesh
