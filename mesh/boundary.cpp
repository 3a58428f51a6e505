#include "mesh/boundary.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "common/error.h"
#include "mesh/aabb_tree.h"

namespace flare::mesh {

namespace {

// Faces of the 3D cells as cyclic local vertex lists (corner vertices only). Their winding is
// not trusted: orient_outward() fixes it from the cell centroid, which also covers inverted cells
// and VTK's voxel numbering.
using Face = std::vector<int>;
const std::vector<Face>& faces_of(CellType t) {
  static const std::vector<Face> tetra = {{0, 1, 3}, {1, 2, 3}, {2, 0, 3}, {0, 2, 1}};
  static const std::vector<Face> hexa = {{0, 4, 7, 3}, {1, 2, 6, 5}, {0, 1, 5, 4},
                                         {3, 7, 6, 2}, {0, 3, 2, 1}, {4, 5, 6, 7}};
  static const std::vector<Face> voxel = {{0, 2, 6, 4}, {1, 5, 7, 3}, {0, 4, 5, 1},
                                          {2, 3, 7, 6}, {0, 1, 3, 2}, {4, 6, 7, 5}};
  static const std::vector<Face> wedge = {{0, 1, 2}, {3, 5, 4}, {0, 3, 4, 1}, {1, 4, 5, 2},
                                          {2, 5, 3, 0}};
  static const std::vector<Face> pyramid = {{0, 3, 2, 1}, {0, 1, 4}, {1, 2, 4}, {2, 3, 4},
                                            {3, 0, 4}};
  static const std::vector<Face> none;
  switch (t) {
    case CellType::Tetra: case CellType::QuadraticTetra: return tetra;
    case CellType::Hexahedron: case CellType::QuadraticHexahedron: return hexa;
    case CellType::Voxel: return voxel;
    case CellType::Wedge: return wedge;
    case CellType::Pyramid: return pyramid;
    default: return none;
  }
}

int corner_count(CellType t) {
  switch (t) {
    case CellType::Tetra: case CellType::QuadraticTetra: return 4;
    case CellType::Pyramid: return 5;
    case CellType::Wedge: return 6;
    default: return 8;
  }
}

// Sorted vertex ids, padded: two faces are the same face exactly when their keys are equal.
using FaceKey = std::array<std::int64_t, 4>;
constexpr std::int64_t kPad = std::numeric_limits<std::int64_t>::max();

FaceKey face_key(const std::int64_t* cv, const Face& face) {
  FaceKey k{kPad, kPad, kPad, kPad};
  for (std::size_t i = 0; i < face.size(); ++i) k[i] = cv[face[i]];
  std::sort(k.begin(), k.end());
  return k;
}

// Newell normal of a polygon (area-weighted, robust to slightly non-planar quads).
Eigen::Vector3d newell_normal(const Points& p, const std::int64_t* v, int n) {
  Eigen::Vector3d nrm = Eigen::Vector3d::Zero();
  for (int i = 0; i < n; ++i) {
    Eigen::Vector3d a = p.row(v[i]).transpose(), b = p.row(v[(i + 1) % n]).transpose();
    nrm += a.cross(b);
  }
  return nrm;
}

void append_fan(std::vector<std::int64_t>& out, const std::int64_t* v, int n) {
  for (int i = 1; i + 1 < n; ++i) out.insert(out.end(), {v[0], v[i], v[i + 1]});
}

Triangles to_matrix(const std::vector<std::int64_t>& flat) {
  Triangles t(std::int64_t(flat.size() / 3), 3);
  std::copy(flat.begin(), flat.end(), t.data());
  return t;
}

// Writes the fan of boundary face `local` of cell c, turned outward (its normal points away from
// the cell centroid), at out[0 .. 3 * (corners - 2)).
void write_outward_fan(const Mesh& mesh, std::int64_t c, int local, std::int64_t* out) {
  const CellType t = mesh.cell_type(c);
  const std::int64_t* cv = mesh.cell(c);
  const Face& lf = faces_of(t)[local];
  std::array<std::int64_t, 4> v{};
  const int n = int(lf.size());
  for (int i = 0; i < n; ++i) v[i] = cv[lf[i]];
  Eigen::Vector3d cell_c = Eigen::Vector3d::Zero(), face_c = Eigen::Vector3d::Zero();
  const int corners = corner_count(t);
  for (int i = 0; i < corners; ++i) cell_c += mesh.points.row(cv[i]).transpose();
  cell_c /= corners;
  for (int i = 0; i < n; ++i) face_c += mesh.points.row(v[i]).transpose();
  face_c /= n;
  if (newell_normal(mesh.points, v.data(), n).dot(face_c - cell_c) < 0) std::reverse(v.begin(), v.begin() + n);
  for (int i = 1; i + 1 < n; ++i) {
    out[3 * (i - 1)] = v[0];
    out[3 * (i - 1) + 1] = v[i];
    out[3 * (i - 1) + 2] = v[i + 1];
  }
}

BoundarySurface volume_boundary(const Mesh& mesh) {
  // A face is on the boundary when no other (cell, local face) has the same vertex set. Two equal
  // faces share their smallest vertex, so faces are bucketed by it (a counting sort of face ids:
  // 8 bytes a face, keys recomputed from the connectivity when compared) and compared within each
  // small bucket. Every pass is parallel over cells or vertices; the result does not depend on
  // the order within a bucket, so the atomic fill keeps it deterministic.
  const std::int64_t nc = mesh.num_cells();
  const std::int64_t np = mesh.num_points();
  std::vector<std::int64_t> first_face(nc + 1, 0);
  for (std::int64_t c = 0; c < nc; ++c)
    first_face[c + 1] = first_face[c] + std::int64_t(faces_of(mesh.cell_type(c)).size());
  const std::int64_t nf = first_face[nc];
  auto min_vertex = [&](std::int64_t c, const Face& face) {
    const std::int64_t* cv = mesh.cell(c);
    std::int64_t m = cv[face[0]];
    for (std::size_t i = 1; i < face.size(); ++i) m = std::min(m, cv[face[i]]);
    return m;
  };

  std::vector<std::int64_t> start(np + 1, 0);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < nc; ++c)
    for (const Face& face : faces_of(mesh.cell_type(c)))
      std::atomic_ref<std::int64_t>(start[min_vertex(c, face) + 1]).fetch_add(1, std::memory_order_relaxed);
  std::partial_sum(start.begin(), start.end(), start.begin());
  // bucket[start[v] ..) lists the faces (cell * 8 + local) whose smallest vertex is v.
  // Not zero-filled: every slot is written once by the fill below (46 MB at a million hexahedra).
  const auto bucket = std::make_unique_for_overwrite<std::int64_t[]>(std::size_t(nf));
  {
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
#pragma omp parallel for schedule(static)
    for (std::int64_t c = 0; c < nc; ++c) {
      const auto& faces = faces_of(mesh.cell_type(c));
      for (int f = 0; f < int(faces.size()); ++f) {
        const std::int64_t slot = std::atomic_ref<std::int64_t>(fill[min_vertex(c, faces[f])])
                                      .fetch_add(1, std::memory_order_relaxed);
        bucket[slot] = c * 8 + f;
      }
    }
  }
  // on_boundary[first_face[c] + local]
  std::vector<std::uint8_t> on_boundary(nf, 0);
#pragma omp parallel
  {
    std::vector<FaceKey> keys;
#pragma omp for schedule(dynamic, 4096)
    for (std::int64_t v = 0; v < np; ++v) {
      const std::int64_t b0 = start[v], nb = start[v + 1] - b0;
      keys.resize(std::size_t(nb));
      for (std::int64_t i = 0; i < nb; ++i) {
        const std::int64_t id = bucket[b0 + i], c = id / 8;
        keys[i] = face_key(mesh.cell(c), faces_of(mesh.cell_type(c))[id % 8]);
      }
      for (std::int64_t i = 0; i < nb; ++i) {
        bool shared = false;
        for (std::int64_t j = 0; j < nb && !shared; ++j) shared = j != i && keys[j] == keys[i];
        if (!shared) {
          const std::int64_t id = bucket[b0 + i];
          on_boundary[first_face[id / 8] + id % 8] = 1;
        }
      }
    }
  }

  // Triangles in (cell, local face) order: count per cell, prefix sum, fill in parallel.
  std::vector<std::int64_t> first_tri(nc + 1, 0);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < nc; ++c) {
    const auto& faces = faces_of(mesh.cell_type(c));
    std::int64_t n = 0;
    for (int f = 0; f < int(faces.size()); ++f)
      if (on_boundary[first_face[c] + f]) n += std::int64_t(faces[f].size()) - 2;
    first_tri[c + 1] = n;
  }
  std::partial_sum(first_tri.begin(), first_tri.end(), first_tri.begin());
  Triangles tris(first_tri[nc], 3);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < nc; ++c) {
    const auto& faces = faces_of(mesh.cell_type(c));
    std::int64_t* out = tris.data() + 3 * first_tri[c];
    for (int f = 0; f < int(faces.size()); ++f)
      if (on_boundary[first_face[c] + f]) {
        write_outward_fan(mesh, c, f, out);
        out += 3 * (std::int64_t(faces[f].size()) - 2);
      }
  }
  return {std::move(tris), true};
}

BoundarySurface surface_cells(const Mesh& mesh) {
  std::vector<std::int64_t> flat;
  for (std::int64_t c = 0; c < mesh.num_cells(); ++c) {
    const CellType t = mesh.cell_type(c);
    const std::int64_t* v = mesh.cell(c);
    const int n = int(mesh.cell_size(c));
    switch (t) {
      case CellType::Triangle: case CellType::QuadraticTriangle: append_fan(flat, v, 3); break;
      case CellType::Quad: case CellType::QuadraticQuad: append_fan(flat, v, 4); break;
      case CellType::Polygon: append_fan(flat, v, n); break;
      case CellType::Pixel: {
        const std::int64_t q[4] = {v[0], v[1], v[3], v[2]};  // VTK pixel numbering is not cyclic
        append_fan(flat, q, 4);
        break;
      }
      case CellType::TriangleStrip:
        for (int i = 0; i + 2 < n; ++i) {
          if (i % 2 == 0) flat.insert(flat.end(), {v[i], v[i + 1], v[i + 2]});
          else flat.insert(flat.end(), {v[i + 1], v[i], v[i + 2]});
        }
        break;
      default: break;
    }
  }
  return {to_matrix(flat), false};
}

}  // namespace

BoundarySurface extract_boundary(const Mesh& mesh, const std::string& source) {
  const int dim = mesh.dimension();
  FLARE_INPUT_CHECK(dim >= 2, source,
                    ": the mesh has no surface or volume cells, so it has no boundary surface "
                    "(boundary features need cells; remove boundary_distance/boundary_normal "
                    "from the feature list for point clouds)");
  BoundarySurface b = dim == 3 ? volume_boundary(mesh) : surface_cells(mesh);
  FLARE_INPUT_CHECK(b.triangles.rows() > 0, source, ": the boundary surface is empty");
  return b;
}

namespace {
// The normalised sum of the distinct normals among `hits` (tied nearest faces), zero where they
// cancel. A function of the set of faces, not of their order: a part voxelised in another pose
// (other cell numbering) gets the turned normals at its edges, corners and medial planes.
// `distinct` is scratch space.
Eigen::Vector3d tied_normal(
    const std::vector<AabbTree::Hit>& hits,
    const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>& normals,
    std::vector<Eigen::Vector3d>& distinct) {
  distinct.clear();
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
  for (const auto& h : hits) {
    const Eigen::Vector3d n = normals.row(h.triangle).transpose();
    if (n.squaredNorm() == 0) continue;  // degenerate triangle
    if (std::any_of(distinct.begin(), distinct.end(),
                    [&](const Eigen::Vector3d& m) { return n.dot(m) > 1 - 1e-9; }))
      continue;
    distinct.push_back(n);
    sum += n;
  }
  const double len = sum.norm();
  return len > 1e-6 ? Eigen::Vector3d(sum / len) : Eigen::Vector3d::Zero();
}
}  // namespace

double tie_tolerance(const Points& points) {
  const Eigen::Vector3d extent =
      (points.colwise().maxCoeff() - points.colwise().minCoeff()).transpose();
  return 1e-6 * extent.norm();
}

BoundaryDistance boundary_distance(const Mesh& mesh, const std::string& source,
                                   double tie_tolerance) {
  FLARE_CHECK(tie_tolerance >= 0, "boundary_distance: the tie tolerance must not be negative");
  const BoundarySurface surface = extract_boundary(mesh, source);
  const auto face_normals = triangle_normals(mesh.points, surface.triangles);
  const AabbTree tree(mesh.points, surface.triangles);
  const std::int64_t n = mesh.num_points();

  // Points of volume cells are inside (or on the boundary) by construction: no geometric
  // inside/outside test needed, so the sign is exact for them.
  std::vector<std::uint8_t> in_volume(n, 0);
  if (surface.closed_volume) {
    const std::int64_t nc = mesh.num_cells();
#pragma omp parallel for schedule(static)
    for (std::int64_t c = 0; c < nc; ++c)
      if (cell_dimension(mesh.cell_type(c)) == 3)
        for (std::int64_t k = 0; k < mesh.cell_size(c); ++k)
          std::atomic_ref<std::uint8_t>(in_volume[mesh.cell(c)[k]]).store(1, std::memory_order_relaxed);
  }

  BoundaryDistance out{std::vector<double>(n), Points(n, 3)};
  // Chunks of consecutive points (neighbours in space for meshes numbered along a lattice or a
  // sweep): each query starts from the previous point's nearest triangle as its first bound.
  constexpr std::int64_t kChunk = 512;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel
  {
    std::vector<AabbTree::Hit> hits;
    std::vector<Eigen::Vector3d> distinct;
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t b = 0; b < chunks; ++b) {
      std::int64_t hint = -1;
      for (std::int64_t i = b * kChunk; i < std::min(n, (b + 1) * kChunk); ++i) {
        const Eigen::Vector3d q = mesh.points.row(i).transpose();
        AabbTree::Hit hit;
        Eigen::Vector3d nrm;
        if (tie_tolerance > 0) {
          tree.closest_all(q, tie_tolerance, hits, hint);
          // The first of the least distance in index order: the hit closest() would return.
          hit = *std::min_element(hits.begin(), hits.end(), [](const auto& x, const auto& y) {
            return x.sqr_distance < y.sqr_distance;
          });
          hint = hit.triangle;
          nrm = tied_normal(hits, face_normals, distinct);
        } else {
          hit = tree.closest(q, hint);
          hint = hit.triangle;
          nrm = face_normals.row(hit.triangle).transpose();
        }
        double d = std::sqrt(hit.sqr_distance);
        const Eigen::Vector3d face = face_normals.row(hit.triangle).transpose();
        if (d > 0 && surface.closed_volume && (in_volume[i] || (q - hit.closest).dot(face) < 0))
          d = -d;
        out.distance[i] = d;
        out.normal.row(i) = nrm.transpose();
      }
    }
  }
  return out;
}

Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> triangle_normals(
    const Points& points, const Triangles& triangles) {
  Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> n(triangles.rows(), 3);
#pragma omp parallel for schedule(static)
  for (Eigen::Index t = 0; t < triangles.rows(); ++t) {
    Eigen::Vector3d a = points.row(triangles(t, 0)).transpose();
    Eigen::Vector3d b = points.row(triangles(t, 1)).transpose();
    Eigen::Vector3d c = points.row(triangles(t, 2)).transpose();
    Eigen::Vector3d x = (b - a).cross(c - a);
    const double len = x.norm();
    n.row(t) = len > 0 ? Eigen::RowVector3d((x / len).transpose()) : Eigen::RowVector3d::Zero();
  }
  return n;
}

double surface_area(const Points& points, const Triangles& triangles) {
  double area = 0;
  for (Eigen::Index t = 0; t < triangles.rows(); ++t) {
    Eigen::Vector3d a = points.row(triangles(t, 0)).transpose();
    Eigen::Vector3d b = points.row(triangles(t, 1)).transpose();
    Eigen::Vector3d c = points.row(triangles(t, 2)).transpose();
    area += 0.5 * (b - a).cross(c - a).norm();
  }
  return area;
}

}  // namespace flare::mesh
