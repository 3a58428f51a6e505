// The training domain: the range of part sizes and resolutions a model has seen. `dataset build`
// records it from the TRAIN split, `train` copies it into the checkpoint, and `predict` warns when
// a mesh lies outside it, because FLARE then extrapolates silently (a part twice the largest
// training part, or meshed at another voxel size, gets a confident but untested prediction).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "mesh/mesh.h"

namespace flare::surrogate {

/// How far outside the training ranges a mesh may lie before `predict` warns. Node count and
/// extent only warn on the large side (smaller parts are sub-problems of what was seen); the edge
/// length (voxel size) warns on both sides because features and the mixer see another resolution.
inline constexpr double kDomainNodesFactor = 1.5;     ///< nodes > 1.5 x largest training part
inline constexpr double kDomainExtentFactor = 1.25;   ///< any axis extent > 1.25 x largest
inline constexpr double kDomainEdgeLowFactor = 0.75;  ///< median edge < 0.75 x smallest
inline constexpr double kDomainEdgeHighFactor = 1.33; ///< median edge > 1.33 x largest

/// Size and resolution of one mesh, as the training domain measures it.
struct MeshShape {
  std::int64_t nodes = 0;
  std::array<double, 3> extent{};  ///< bounding-box size per axis
  double edge = 0;                 ///< median cell edge length (mesh::median_edge_length)
  int dim = 0;                     ///< highest cell dimension: 3 volume, 2 surface (mesh::dimension)
};

/// Measures `mesh` (O(cells); the edge length is sampled on very large meshes).
MeshShape measure_shape(const mesh::Mesh& mesh);

/// Ranges over the training meshes. Empty (samples == 0) until the first add().
struct TrainingDomain {
  std::int64_t samples = 0;
  std::int64_t min_nodes = 0, max_nodes = 0;
  std::array<double, 3> min_extent{}, max_extent{};
  double min_edge = 0, max_edge = 0;
  int min_dim = 0, max_dim = 0;  ///< 0: unknown (domains written before the dimension was kept)

  void add(const MeshShape& s);

  /// Empty when `s` has the cell dimension of the training meshes (or it is unknown); otherwise
  /// why not and what to do. Unlike outside_reasons() this is a refusal: the features of a surface
  /// mesh (distance to the boundary, normals) are not those of the volume meshes a model saw.
  std::string dimension_mismatch(const MeshShape& s) const;

  /// Empty when `s` lies inside the domain (with the tolerances above); otherwise one sentence
  /// per reason with both numbers, e.g. "48000 nodes > 1.5 x the largest training part (30000)".
  std::string outside_reasons(const MeshShape& s) const;

  nlohmann::json to_json() const;
  /// Throws InputError naming `source` when the JSON is not a domain.
  static TrainingDomain from_json(const nlohmann::json& j, const std::string& source);
};

}  // namespace flare::surrogate
