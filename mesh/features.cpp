#include "mesh/features.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "mesh/boundary.h"

namespace flare::mesh {

namespace {

const std::string kArrayPrefix = "array:";

bool is_array_spec(const std::string& s) { return s.rfind(kArrayPrefix, 0) == 0; }
std::string array_of(const std::string& s) { return s.substr(kArrayPrefix.size()); }

bool is_known(const std::string& s) {
  return s == "coords" || s == "boundary_distance" || s == "boundary_normal" || s == "height" ||
         (is_array_spec(s) && s.size() > kArrayPrefix.size());
}

}  // namespace

void add_array_symmetry(PlaneSymmetry& s, const std::string& name, int components,
                        Eigen::Index first) {
  if (components == 3) s.pairs.push_back({first, first + 1});
  else if (components != 1 && s.why_not.empty())
    s.why_not = detail::concat("point array '", name, "' has ", components,
                               " components (only scalars and 3-vectors have a known rotation)");
}

PlaneSymmetry arrays_symmetry(const std::vector<std::string>& names,
                              const std::vector<int>& components) {
  FLARE_CHECK(names.size() == components.size(), "arrays_symmetry: ", names.size(), " names, ",
              components.size(), " widths");
  PlaneSymmetry s;
  Eigen::Index col = 0;
  for (std::size_t k = 0; k < names.size(); ++k) {
    add_array_symmetry(s, names[k], components[k], col);
    col += components[k];
  }
  return s;
}

FeatureRecipe FeatureRecipe::default_recipe(const std::vector<std::string>& input_arrays,
                                            int version) {
  FeatureRecipe r;
  r.version = version;
  r.features = {"coords", "boundary_distance", "boundary_normal"};
  if (version == 1) r.features.push_back("height");
  for (const auto& a : input_arrays) r.features.push_back(kArrayPrefix + a);
  return r;
}

void FeatureRecipe::validate() const {
  FLARE_INPUT_CHECK(version >= kMinVersion && version <= kVersion, "feature recipe version ",
                    version, " is not supported (this build reads versions ", kMinVersion, " to ",
                    kVersion, "; use a matching flare-surrogate)");
  FLARE_INPUT_CHECK(!features.empty(), "feature recipe: the feature list is empty");
  std::set<std::string> seen;
  for (const auto& f : features) {
    FLARE_INPUT_CHECK(is_known(f), "feature recipe: unknown feature '", f,
                      "' (known: coords, boundary_distance, boundary_normal, height, "
                      "array:<point array name>)");
    FLARE_INPUT_CHECK(seen.insert(f).second, "feature recipe: feature '", f, "' is listed twice");
  }
  FLARE_INPUT_CHECK(std::isfinite(length_scale) && length_scale > 0,
                    "feature recipe: length_scale must be a positive number, got ", length_scale);
  FLARE_INPUT_CHECK(origin.allFinite(), "feature recipe: origin has a non-finite coordinate");
}

std::vector<std::string> FeatureRecipe::input_arrays() const {
  std::vector<std::string> out;
  for (const auto& f : features)
    if (is_array_spec(f)) out.push_back(array_of(f));
  return out;
}

PlaneSymmetry FeatureRecipe::plane_symmetry(const std::vector<std::string>& columns) const {
  PlaneSymmetry s;
  if (version == 1)
    s.why_not = "the feature recipe is version 1, whose coordinates are absolute plate positions";
  const Eigen::Index n = Eigen::Index(columns.size());
  Eigen::Index col = 0;
  for (const auto& f : features) {
    if (f == "coords" || f == "boundary_normal") {
      s.pairs.push_back({col, col + 1});
      col += 3;
    } else if (f == "boundary_distance" || f == "height") {
      col += 1;
    } else {
      // An array's width is not in the recipe: its columns are <a>, or <a>_0 .. <a>_{k-1}.
      const std::string a = array_of(f);
      int k = 0;
      if (col < n && columns[col] == a) k = 1;
      else
        while (col + k < n && columns[col + k] == a + "_" + std::to_string(k)) ++k;
      FLARE_INPUT_CHECK(k > 0, "feature columns do not match the recipe: no column for array '",
                        a, "'");
      add_array_symmetry(s, a, k, col);
      col += k;
    }
  }
  FLARE_INPUT_CHECK(col == n, "feature columns do not match the recipe: ", n, " columns, the recipe "
                    "makes ", col);
  return s;
}

std::vector<std::string> FeatureRecipe::column_names(const Mesh& mesh) const {
  std::vector<std::string> names;
  for (const auto& f : features) {
    if (f == "coords") names.insert(names.end(), {"coord_x", "coord_y", "coord_z"});
    else if (f == "boundary_distance") names.push_back("boundary_distance");
    else if (f == "boundary_normal") names.insert(names.end(), {"normal_x", "normal_y", "normal_z"});
    else if (f == "height") names.push_back("height");
    else {
      const std::string a = array_of(f);
      const DataArray* arr = mesh.point_data.find(a);
      const int k = arr ? arr->components() : 1;
      if (k == 1) names.push_back(a);
      else
        for (int c = 0; c < k; ++c) names.push_back(a + "_" + std::to_string(c));
    }
  }
  return names;
}

nlohmann::json FeatureRecipe::to_json() const {
  // Version 1 is written exactly as before version 2 existed; version 2 has no origin.
  if (version == 1)
    return {{"version", version},
            {"features", features},
            {"origin", {origin.x(), origin.y(), origin.z()}},
            {"length_scale", length_scale}};
  return {{"version", version}, {"features", features}, {"length_scale", length_scale}};
}

FeatureRecipe FeatureRecipe::from_json(const nlohmann::json& j, const std::string& source) {
  FeatureRecipe r;
  try {
    r.version = j.at("version").get<int>();
    FLARE_INPUT_CHECK(r.version >= kMinVersion && r.version <= kVersion, source,
                      ": feature recipe version ", r.version, " is not supported (this build reads "
                      "versions ", kMinVersion, " to ", kVersion, "; use a newer flare-surrogate)");
    r.features = j.at("features").get<std::vector<std::string>>();
    if (r.version == 1) {
      const auto o = j.at("origin").get<std::vector<double>>();
      FLARE_INPUT_CHECK(o.size() == 3, source, ": feature recipe origin must have 3 values");
      r.origin = Eigen::Vector3d(o[0], o[1], o[2]);
    }
    r.length_scale = j.at("length_scale").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(source, ": not a valid feature recipe (", e.what(), ")"));
  }
  try {
    r.validate();
  } catch (const InputError& e) {
    throw InputError(detail::concat(source, ": ", e.what()));
  }
  return r;
}

void Bounds::extend(const Points& points) {
  if (points.rows() == 0) return;
  lo = lo.cwiseMin(points.colwise().minCoeff().transpose());
  hi = hi.cwiseMax(points.colwise().maxCoeff().transpose());
}

Eigen::Vector3d part_frame_origin(const Points& points) {
  FLARE_CHECK(points.rows() > 0, "part_frame_origin: no points");
  const Eigen::Vector3d lo = points.colwise().minCoeff().transpose();
  const Eigen::Vector3d hi = points.colwise().maxCoeff().transpose();
  // (lo + hi) / 2 negates exactly with the points (a mirror), so the frame maps to itself.
  return {0.5 * (lo.x() + hi.x()), 0.5 * (lo.y() + hi.y()), lo.z()};
}

void fit_normalization(FeatureRecipe& recipe, const std::vector<Bounds>& train_meshes) {
  Bounds all;
  double largest = 0;
  for (const Bounds& b : train_meshes)
    if (!b.empty()) {
      all.lo = all.lo.cwiseMin(b.lo);
      all.hi = all.hi.cwiseMax(b.hi);
      largest = std::max(largest, (b.hi - b.lo).maxCoeff());
    }
  FLARE_INPUT_CHECK(!all.empty(), "cannot fit the feature normalisation: no points");
  const double half = 0.5 * (recipe.version == 1 ? (all.hi - all.lo).maxCoeff() : largest);
  FLARE_INPUT_CHECK(half > 0 && std::isfinite(half),
                    "cannot fit the feature normalisation: the training meshes have zero extent");
  recipe.origin = recipe.version == 1 ? Eigen::Vector3d(0.5 * (all.lo + all.hi))
                                      : Eigen::Vector3d::Zero();
  recipe.length_scale = half;
}

std::optional<BoundaryDistance> recipe_boundary(const Mesh& mesh, const FeatureRecipe& recipe,
                                                const std::string& source) {
  for (const auto& f : recipe.features)
    if (f == "boundary_distance" || f == "boundary_normal")
      return boundary_distance(mesh, source, recipe.version == 1 ? 0.0 : tie_tolerance(mesh.points));
  return std::nullopt;
}

FeatureMatrix compute_features(const Mesh& mesh, const FeatureRecipe& recipe,
                               std::vector<std::string>* column_names, const std::string& source,
                               const BoundaryDistance* boundary) {
  recipe.validate();
  const std::int64_t n = mesh.num_points();
  FLARE_INPUT_CHECK(n > 0, source, ": the mesh has no points");

  // Check every input array before any expensive work, naming what is missing.
  for (const auto& a : recipe.input_arrays()) {
    const DataArray* arr = mesh.point_data.find(a);
    if (!arr) {
      std::string have;
      for (const auto& nm : mesh.point_data.names()) have += (have.empty() ? "" : ", ") + nm;
      throw InputError(detail::concat(source, ": the feature recipe needs point array '", a,
                                      "' but the mesh has ", have.empty() ? "no point arrays" : have,
                                      " (add the array to the mesh or drop it from --inputs)"));
    }
    FLARE_INPUT_CHECK(arr->tuples() == n, source, ": point array '", a, "' has ", arr->tuples(),
                      " tuples for ", n, " points");
  }

  const auto names = recipe.column_names(mesh);
  FeatureMatrix x(n, Eigen::Index(names.size()));
  const double inv = 1.0 / recipe.length_scale;

  std::optional<BoundaryDistance> own;
  if (!boundary) {
    own = recipe_boundary(mesh, recipe, source);
    if (own) boundary = &*own;
  }
  FLARE_CHECK(!boundary || (std::int64_t(boundary->distance.size()) == n && boundary->normal.rows() == n),
              source, ": boundary features of ", boundary ? boundary->distance.size() : 0,
              " points given for a mesh of ", n);

  // Version 1 subtracts the recipe's origin (exactly the arithmetic it always did), version 2 the
  // origin of this mesh's own frame.
  const Eigen::Vector3d origin =
      recipe.version == 1 ? recipe.origin : part_frame_origin(mesh.points);
  Eigen::Index col = 0;
  for (const auto& f : recipe.features) {
    if (f == "coords") {
      for (int k = 0; k < 3; ++k)
        x.col(col + k) = ((mesh.points.col(k).array() - origin[k]) * inv).cast<float>();
      col += 3;
    } else if (f == "boundary_distance") {
      for (std::int64_t i = 0; i < n; ++i) x(i, col) = float(boundary->distance[i] * inv);
      col += 1;
    } else if (f == "boundary_normal") {
      x.middleCols(col, 3) = boundary->normal.cast<float>();
      col += 3;
    } else if (f == "height") {
      const double z0 = mesh.points.col(2).minCoeff();
      x.col(col) = ((mesh.points.col(2).array() - z0) * inv).cast<float>();
      col += 1;
    } else {
      const DataArray& arr = *mesh.point_data.find(array_of(f));
      const int k = arr.components();
      for (std::int64_t i = 0; i < n; ++i)
        for (int c = 0; c < k; ++c) {
          const double v = arr.get(i, c);
          FLARE_INPUT_CHECK(std::isfinite(v), source, ": point array '", arr.name(),
                            "' has a non-finite value (", v, ") at point ", i);
          x(i, col + c) = float(v);
        }
      col += k;
    }
  }
  if (column_names) *column_names = names;
  return x;
}

NonFinite find_non_finite(const FeatureMatrix& x) {
  NonFinite r;
  const float* v = x.data();
  for (std::int64_t i = 0; i < std::int64_t(x.size()); ++i)
    if (!std::isfinite(v[i])) {
      if (r.count++ == 0) {
        r.row = i / x.cols();
        r.column = i % x.cols();
        r.value = v[i];
      }
    }
  return r;
}

std::string NonFinite::describe(const std::vector<std::string>& columns) const {
  const std::string name = column >= 0 && column < std::int64_t(columns.size())
                               ? columns[std::size_t(column)]
                               : "#" + std::to_string(column);
  return detail::concat("column '", name, "' is ", value, " at point ", row, " (", count,
                        count == 1 ? " non-finite value)" : " non-finite values)");
}

}  // namespace flare::mesh
