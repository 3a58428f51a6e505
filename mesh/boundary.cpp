#include "mesh/boundary.h"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>

#include "common/error.h"

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

struct FaceRef {
  std::int64_t cell;
  int local;
};

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

BoundarySurface volume_boundary(const Mesh& mesh) {
  // Enumerate every face of every 3D cell in (cell, local face) order; per-cell face offsets
  // let the cells fill their slots in parallel.
  const std::int64_t nc = mesh.num_cells();
  std::vector<std::int64_t> first_face(nc + 1, 0);
  for (std::int64_t c = 0; c < nc; ++c)
    first_face[c + 1] = first_face[c] + std::int64_t(faces_of(mesh.cell_type(c)).size());
  std::vector<FaceRef> refs(first_face[nc]);
  std::vector<FaceKey> keys(first_face[nc]);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < nc; ++c) {
    const auto& faces = faces_of(mesh.cell_type(c));
    const std::int64_t* cv = mesh.cell(c);
    for (int f = 0; f < int(faces.size()); ++f) {
      FaceKey k{kPad, kPad, kPad, kPad};
      for (std::size_t i = 0; i < faces[f].size(); ++i) k[i] = cv[faces[f][i]];
      std::sort(k.begin(), k.end());
      refs[first_face[c] + f] = {c, f};
      keys[first_face[c] + f] = k;
    }
  }
  const std::int64_t nf = std::int64_t(keys.size());
  const std::int64_t np = mesh.num_points();

  // Bucket faces by their smallest vertex (counting sort), then match within each small bucket:
  // O(#faces) overall instead of a global sort.
  std::vector<std::int64_t> start(np + 1, 0);
  for (const auto& k : keys) ++start[k[0] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::int64_t> order(nf);
  {
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
    for (std::int64_t f = 0; f < nf; ++f) order[fill[keys[f][0]]++] = f;
  }
  std::vector<char> on_boundary(nf, 0);
#pragma omp parallel for schedule(dynamic, 4096)
  for (std::int64_t v = 0; v < np; ++v) {
    auto first = order.begin() + start[v], last = order.begin() + start[v + 1];
    std::sort(first, last, [&](std::int64_t a, std::int64_t b) {
      return keys[a] < keys[b] || (keys[a] == keys[b] && a < b);
    });
    for (auto run = first; run != last;) {
      auto end = run + 1;
      while (end != last && keys[*end] == keys[*run]) ++end;
      if (end - run == 1) on_boundary[*run] = 1;
      run = end;
    }
  }

  std::vector<std::int64_t> flat;
  for (std::int64_t f = 0; f < nf; ++f) {
    if (!on_boundary[f]) continue;
    const std::int64_t c = refs[f].cell;
    const CellType t = mesh.cell_type(c);
    const std::int64_t* cv = mesh.cell(c);
    const Face& lf = faces_of(t)[refs[f].local];
    std::array<std::int64_t, 4> v{};
    const int n = int(lf.size());
    for (int i = 0; i < n; ++i) v[i] = cv[lf[i]];
    // Outward: the face normal points away from the cell centroid.
    Eigen::Vector3d cell_c = Eigen::Vector3d::Zero(), face_c = Eigen::Vector3d::Zero();
    const int corners = corner_count(t);
    for (int i = 0; i < corners; ++i) cell_c += mesh.points.row(cv[i]).transpose();
    cell_c /= corners;
    for (int i = 0; i < n; ++i) face_c += mesh.points.row(v[i]).transpose();
    face_c /= n;
    if (newell_normal(mesh.points, v.data(), n).dot(face_c - cell_c) < 0) std::reverse(v.begin(), v.begin() + n);
    append_fan(flat, v.data(), n);
  }
  return {to_matrix(flat), true};
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

Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> triangle_normals(
    const Points& points, const Triangles& triangles) {
  Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> n(triangles.rows(), 3);
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
