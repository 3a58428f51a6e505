// Per-point input features for the surrogate, built from a FeatureRecipe.
//
// A recipe is stored in every dataset and checkpoint, so `predict` builds exactly the features the
// model was trained on. All lengths are divided by one length scale fixed in the recipe (fitted
// once on the training set), never per mesh, so sizes keep their meaning in millimetres.
//
// Recipe versions (what `coords` means):
//   1  (x - origin) / length_scale with one dataset-wide origin: absolute plate positions, so a
//      part moved on the plate gets other features (the bundled models of issue 16's time).
//   2  the part's own frame (lpbf.md "Invariances"): (x - part_frame_origin(mesh)) / length_scale,
//      x and y about the centre of the mesh's x-y bounding box, z above its lowest point. A part
//      moved on the plate gets the same features; no origin is stored.
//
// Feature kinds (columns in recipe order):
//   coords             3  position (see the versions above)
//   boundary_distance  1  signed distance to the boundary surface / length_scale: NEGATIVE inside
//                         a volume mesh, zero on its boundary, positive outside; points not used
//                         by any volume cell take the side of the nearest face's plane. On a
//                         surface mesh inside is undefined and the distance is unsigned (>= 0).
//   boundary_normal    3  outward unit normal of the nearest boundary triangle (quads are split
//                         in two). Where several faces are equally near (edges, corners, points
//                         equally far from two walls): version 1 takes the lowest-index face;
//                         version 2 takes every face within 1e-6 of the part's size of the
//                         nearest and gives the normalised sum of their distinct normals (the
//                         bisector on an edge; zero where they cancel, as midway through a wall),
//                         which does not depend on how the mesh is numbered or where it sits.
//   height             1  (z - z_min of this mesh) / length_scale: height above the build plate
//   array:<name>       k  the point array <name> of the mesh, all its k components, unscaled
#pragma once

#include <Eigen/Core>
#include <array>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mesh/boundary.h"
#include "mesh/mesh.h"

namespace flare::mesh {

/// #N by F, row-major float: one row per point, one column per feature channel.
using FeatureMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// How columns transform under the symmetries of the process on the voxel lattice: rotations
/// about z by multiples of 90 degrees and mirrors in x or y (lpbf.md "Invariances").
struct PlaneSymmetry {
  /// (x, y) columns of each in-plane vector; every other column is unchanged (a scalar or a z
  /// component).
  std::vector<std::array<Eigen::Index, 2>> pairs;
  /// Empty when `pairs` describes every column; otherwise why not (one clause, for a message).
  std::string why_not;
};

/// Adds point array `name` of `components` columns from column `first`: 1 component is a scalar,
/// 3 a Cartesian vector (x, y, z), any other width has no known transform (why_not is set).
void add_array_symmetry(PlaneSymmetry& s, const std::string& name, int components,
                        Eigen::Index first);
/// Point arrays `names` with `components` each, side by side from column 0 (e.g. the targets).
PlaneSymmetry arrays_symmetry(const std::vector<std::string>& names,
                              const std::vector<int>& components);

struct FeatureRecipe {
  static constexpr int kVersion = 2;     ///< the version `dataset build` writes
  static constexpr int kMinVersion = 1;  ///< the oldest version this build reads (bit-exactly)
  int version = kVersion;                ///< see "Recipe versions" above
  /// Ordered feature specs: "coords", "boundary_distance", "boundary_normal", "height",
  /// "array:<name>".
  std::vector<std::string> features;
  Eigen::Vector3d origin = Eigen::Vector3d::Zero();  ///< version 1: subtracted from coordinates
  double length_scale = 1.0;                         ///< divides every length feature

  /// coords, boundary_distance, boundary_normal, then array:<name> for each input array. Version
  /// 1 adds height after the normal; version 2 leaves it out because it equals coord_z there.
  static FeatureRecipe default_recipe(const std::vector<std::string>& input_arrays = {},
                                      int version = kVersion);

  /// Throws InputError on unknown kinds, duplicates, or a non-positive/non-finite length scale.
  void validate() const;
  /// Column names (coord_x, ..., normal_z, <array> or <array>_<k>) for `mesh`'s array widths.
  std::vector<std::string> column_names(const Mesh& mesh) const;
  /// The point arrays the recipe reads.
  std::vector<std::string> input_arrays() const;
  /// How the columns `columns` (column_names() of a mesh, as a dataset stores them) transform:
  /// the coordinate and normal x/y pairs, input arrays by add_array_symmetry. A version-1 recipe
  /// has no transform (why_not set): its coordinates are absolute plate positions.
  PlaneSymmetry plane_symmetry(const std::vector<std::string>& columns) const;

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

/// Origin of the version-2 part frame of `points`: (centre of the x-y bounding box, lowest z).
/// Moves exactly with the part, and maps to itself under the symmetries of PlaneSymmetry.
Eigen::Vector3d part_frame_origin(const Points& points);

/// Fits the length normalisation on the bounds of the training meshes. Version 1: origin = centre
/// of the union of the bounds, length_scale = half its largest extent (coordinates in [-1, 1]).
/// Version 2: length_scale = half the largest extent of any one mesh on any axis (x, y in
/// [-1, 1], z in [0, 2]); it does not depend on where the parts sit on the plate.
/// Throws InputError when there are no bounds or they have zero size.
void fit_normalization(FeatureRecipe& recipe, const std::vector<Bounds>& train_meshes);

/// The boundary distance and normals `recipe` reads on `mesh` (with its version's tie tolerance),
/// or nullopt when it reads neither: the bulk of compute_features' time, which depends on the
/// points and cells alone, so a caller may compute it beside other host-light work (`predict`
/// beside the GPU coarse solve) and hand it to compute_features. Throws what boundary_distance
/// throws.
std::optional<BoundaryDistance> recipe_boundary(const Mesh& mesh, const FeatureRecipe& recipe,
                                                const std::string& source = "mesh");

/// Computes the recipe's features on `mesh`.
/// @param[in]  mesh          validated mesh (#N points)
/// @param[in]  recipe        features and normalisation
/// @param[out] column_names  if not null, receives the F column names
/// @param[in]  source        file name used in error messages
/// @param[in]  boundary      if not null, recipe_boundary(mesh, recipe) computed before (the
///                           result is the same bit for bit); else computed here
/// @return #N by F. Throws InputError naming `source` when the mesh cannot provide a feature
/// (missing or non-finite array, no cells for boundary features).
FeatureMatrix compute_features(const Mesh& mesh, const FeatureRecipe& recipe,
                               std::vector<std::string>* column_names = nullptr,
                               const std::string& source = "mesh",
                               const BoundaryDistance* boundary = nullptr);

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
