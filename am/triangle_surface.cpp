#include "am/triangle_surface.h"

#include <Eigen/Geometry>
#include <cmath>
#include <unordered_map>

#include "common/error.h"

namespace flare::am {

using mesh::CellType;

namespace {

struct CoordHash {
  std::size_t operator()(const std::array<double, 3>& p) const {
    std::size_t h = 0;
    for (double v : p) h = h * 0x9E3779B97F4A7C15ull ^ std::hash<double>()(v);
    return h;
  }
};

}  // namespace

double TriangleSurface::signed_volume() const {
  double v = 0;
  for (const auto& t : triangles) v += vertices[t[0]].dot(vertices[t[1]].cross(vertices[t[2]]));
  return v / 6;
}

double TriangleSurface::volume() const { return std::abs(signed_volume()); }

double TriangleSurface::area() const {
  double a = 0;
  for (const auto& t : triangles)
    a += (vertices[t[1]] - vertices[t[0]]).cross(vertices[t[2]] - vertices[t[0]]).norm() / 2;
  return a;
}

TriangleSurface triangle_surface(const mesh::Mesh& m, const std::string& source) {
  TriangleSurface s;
  std::unordered_map<std::array<double, 3>, std::int32_t, CoordHash> weld;
  std::vector<std::int32_t> id(std::size_t(m.num_points()), -1);
  auto vertex = [&](std::int64_t p) {
    if (id[p] < 0) {
      std::array<double, 3> key{m.points(p, 0), m.points(p, 1), m.points(p, 2)};
      auto [it, fresh] = weld.try_emplace(key, std::int32_t(s.vertices.size()));
      if (fresh) s.vertices.emplace_back(key[0], key[1], key[2]);
      id[p] = it->second;
    }
    return id[p];
  };
  auto add = [&](std::int64_t a, std::int64_t b, std::int64_t c) {
    std::array<std::int32_t, 3> t{vertex(a), vertex(b), vertex(c)};
    // Repeated vertices (after welding) make a zero-area sliver with no edges of its own.
    if (t[0] != t[1] && t[1] != t[2] && t[0] != t[2]) s.triangles.push_back(t);
  };
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    const std::int64_t* v = m.cell(c);
    const std::int64_t n = m.cell_size(c);
    const CellType type = m.cell_type(c);
    FLARE_INPUT_CHECK(mesh::cell_dimension(type) < 3, source, ": has volume cells (",
                      mesh::cell_type_name(type), "); voxelize takes a closed surface such as an STL");
    switch (type) {
      case CellType::Triangle: case CellType::Quad: case CellType::Polygon:
        for (std::int64_t i = 1; i + 1 < n; ++i) add(v[0], v[i], v[i + 1]);
        break;
      case CellType::Pixel:  // VTK pixel order is 0 1 3 2 around the square
        add(v[0], v[1], v[3]);
        add(v[0], v[3], v[2]);
        break;
      case CellType::TriangleStrip:
        for (std::int64_t i = 0; i + 2 < n; ++i)
          i % 2 == 0 ? add(v[i], v[i + 1], v[i + 2]) : add(v[i + 1], v[i], v[i + 2]);
        break;
      default:
        break;  // vertices and lines carry no surface
    }
  }
  FLARE_INPUT_CHECK(!s.triangles.empty(), source,
                    ": no surface triangles (empty or degenerate geometry); give a closed surface mesh");
  return s;
}

}  // namespace flare::am
