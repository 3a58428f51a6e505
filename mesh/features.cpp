#include "mesh/features.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "mesh/aabb_tree.h"
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

// Signed distance and outward normal of the nearest boundary triangle for every point.
struct BoundaryFeatures {
  std::vector<double> distance;  // #N, signed, unscaled
  Points normal;                 // #N by 3
};

BoundaryFeatures boundary_features(const Mesh& mesh, const std::string& source) {
  const BoundarySurface surface = extract_boundary(mesh, source);
  const auto face_normals = triangle_normals(mesh.points, surface.triangles);
  const AabbTree tree(mesh.points, surface.triangles);

  // Points of volume cells are inside (or on the boundary) by construction: no geometric
  // inside/outside test needed, so the sign is exact for them.
  std::vector<char> in_volume(mesh.num_points(), 0);
  if (surface.closed_volume)
    for (std::int64_t c = 0; c < mesh.num_cells(); ++c)
      if (cell_dimension(mesh.cell_type(c)) == 3)
        for (std::int64_t k = 0; k < mesh.cell_size(c); ++k) in_volume[mesh.cell(c)[k]] = 1;

  const std::int64_t n = mesh.num_points();
  BoundaryFeatures out{std::vector<double>(n), Points(n, 3)};
#pragma omp parallel for schedule(dynamic, 1024)
  for (std::int64_t i = 0; i < n; ++i) {
    const Eigen::Vector3d q = mesh.points.row(i).transpose();
    const AabbTree::Hit hit = tree.closest(q);
    const Eigen::Vector3d nrm = face_normals.row(hit.triangle).transpose();
    double d = std::sqrt(hit.sqr_distance);
    if (d > 0 && surface.closed_volume && (in_volume[i] || (q - hit.closest).dot(nrm) < 0)) d = -d;
    out.distance[i] = d;
    out.normal.row(i) = nrm.transpose();
  }
  return out;
}

}  // namespace

FeatureRecipe FeatureRecipe::default_recipe(const std::vector<std::string>& input_arrays) {
  FeatureRecipe r;
  r.features = {"coords", "boundary_distance", "boundary_normal", "height"};
  for (const auto& a : input_arrays) r.features.push_back(kArrayPrefix + a);
  return r;
}

void FeatureRecipe::validate() const {
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
  return {{"version", kVersion},
          {"features", features},
          {"origin", {origin.x(), origin.y(), origin.z()}},
          {"length_scale", length_scale}};
}

FeatureRecipe FeatureRecipe::from_json(const nlohmann::json& j, const std::string& source) {
  FeatureRecipe r;
  try {
    const int version = j.at("version").get<int>();
    FLARE_INPUT_CHECK(version == kVersion, source, ": feature recipe version ", version,
                      " is not supported (this build reads version ", kVersion,
                      "; use a matching flare-surrogate)");
    r.features = j.at("features").get<std::vector<std::string>>();
    const auto o = j.at("origin").get<std::vector<double>>();
    FLARE_INPUT_CHECK(o.size() == 3, source, ": feature recipe origin must have 3 values");
    r.origin = Eigen::Vector3d(o[0], o[1], o[2]);
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

void fit_normalization(FeatureRecipe& recipe, const Bounds& b) {
  FLARE_INPUT_CHECK(!b.empty(), "cannot fit the feature normalisation: no points");
  const double half = 0.5 * (b.hi - b.lo).maxCoeff();
  FLARE_INPUT_CHECK(half > 0 && std::isfinite(half),
                    "cannot fit the feature normalisation: the training meshes have zero extent");
  recipe.origin = 0.5 * (b.lo + b.hi);
  recipe.length_scale = half;
}

FeatureMatrix compute_features(const Mesh& mesh, const FeatureRecipe& recipe,
                               std::vector<std::string>* column_names, const std::string& source) {
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

  BoundaryFeatures bf;
  for (const auto& f : recipe.features)
    if (f == "boundary_distance" || f == "boundary_normal") {
      bf = boundary_features(mesh, source);
      break;
    }

  Eigen::Index col = 0;
  for (const auto& f : recipe.features) {
    if (f == "coords") {
      for (int k = 0; k < 3; ++k)
        x.col(col + k) = ((mesh.points.col(k).array() - recipe.origin[k]) * inv).cast<float>();
      col += 3;
    } else if (f == "boundary_distance") {
      for (std::int64_t i = 0; i < n; ++i) x(i, col) = float(bf.distance[i] * inv);
      col += 1;
    } else if (f == "boundary_normal") {
      x.middleCols(col, 3) = bf.normal.cast<float>();
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
