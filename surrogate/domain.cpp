#include "surrogate/domain.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "mesh/features.h"
#include "mesh/measure.h"

namespace flare::surrogate {

namespace {
const char* kAxis[3] = {"x", "y", "z"};
}

MeshShape measure_shape(const mesh::Mesh& m) {
  MeshShape s;
  s.nodes = m.num_points();
  if (s.nodes > 0) {
    mesh::Bounds b;
    b.extend(m.points);
    for (int a = 0; a < 3; ++a) s.extent[a] = b.hi[a] - b.lo[a];
  }
  s.edge = mesh::median_edge_length(m);
  s.dim = m.dimension();
  return s;
}

void TrainingDomain::add(const MeshShape& s) {
  if (samples == 0) {
    min_nodes = max_nodes = s.nodes;
    min_extent = max_extent = s.extent;
    min_edge = max_edge = s.edge;
    min_dim = max_dim = s.dim;
  } else {
    min_nodes = std::min(min_nodes, s.nodes);
    max_nodes = std::max(max_nodes, s.nodes);
    for (int a = 0; a < 3; ++a) {
      min_extent[a] = std::min(min_extent[a], s.extent[a]);
      max_extent[a] = std::max(max_extent[a], s.extent[a]);
    }
    min_edge = std::min(min_edge, s.edge);
    max_edge = std::max(max_edge, s.edge);
    min_dim = std::min(min_dim, s.dim);
    max_dim = std::max(max_dim, s.dim);
  }
  ++samples;
}

std::string TrainingDomain::outside_reasons(const MeshShape& s) const {
  if (samples == 0) return {};
  std::ostringstream out;
  out.precision(4);
  auto sep = [&] { return out.tellp() > 0 ? "; " : ""; };
  if (double(s.nodes) > kDomainNodesFactor * double(max_nodes))
    out << sep() << s.nodes << " nodes > " << kDomainNodesFactor
        << " x the largest training part (" << max_nodes << ")";
  for (int a = 0; a < 3; ++a)
    if (s.extent[a] > kDomainExtentFactor * max_extent[a])
      out << sep() << kAxis[a] << " extent " << s.extent[a] << " > " << kDomainExtentFactor
          << " x the largest in training (" << max_extent[a] << ")";
  // A mesh without cells has no edge length; the feature code refuses it with its own message.
  if (s.edge > 0 && min_edge > 0 &&
      (s.edge < kDomainEdgeLowFactor * min_edge || s.edge > kDomainEdgeHighFactor * max_edge))
    out << sep() << "median edge length (voxel size) " << s.edge << " outside ["
        << kDomainEdgeLowFactor << " x " << min_edge << ", " << kDomainEdgeHighFactor << " x "
        << max_edge << "] of training";
  return out.str();
}

std::string TrainingDomain::dimension_mismatch(const MeshShape& s) const {
  if (samples == 0 || max_dim == 0 || (s.dim >= min_dim && s.dim <= max_dim)) return {};
  auto kind = [](int d) {
    return d == 3 ? std::string("volume") : d == 2 ? std::string("surface") : "dimension-" + std::to_string(d);
  };
  std::ostringstream out;
  out.precision(4);
  out << "a " << kind(s.dim) << " mesh, but the model was trained on " << kind(max_dim)
      << " meshes";
  if (s.dim == 2 && max_dim == 3)
    out << "; voxelize the closed surface first: flare-surrogate am voxelize PART.stl --voxel "
        << std::sqrt(min_edge * max_edge) << " -o part.vtu (training voxel sizes " << min_edge
        << " .. " << max_edge << ")";
  return out.str();
}

nlohmann::json TrainingDomain::to_json() const {
  return {{"samples", samples},
          {"nodes", {min_nodes, max_nodes}},
          {"extent_min", min_extent},
          {"extent_max", max_extent},
          {"edge_length", {min_edge, max_edge}},
          {"dimension", {min_dim, max_dim}}};
}

TrainingDomain TrainingDomain::from_json(const nlohmann::json& j, const std::string& source) {
  TrainingDomain d;
  try {
    d.samples = j.at("samples").get<std::int64_t>();
    const auto nodes = j.at("nodes").get<std::array<std::int64_t, 2>>();
    d.min_nodes = nodes[0];
    d.max_nodes = nodes[1];
    d.min_extent = j.at("extent_min").get<std::array<double, 3>>();
    d.max_extent = j.at("extent_max").get<std::array<double, 3>>();
    const auto edge = j.at("edge_length").get<std::array<double, 2>>();
    d.min_edge = edge[0];
    d.max_edge = edge[1];
    if (j.contains("dimension")) {
      const auto dim = j.at("dimension").get<std::array<int, 2>>();
      d.min_dim = dim[0];
      d.max_dim = dim[1];
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(source, ": damaged training domain (", e.what(),
                                    "); rebuild the dataset or retrain"));
  }
  return d;
}

}  // namespace flare::surrogate
