// Test helper: a hex mesh from a voxel mask (x fastest), voxel size h, plate at z = 0. Only the
// nodes used by filled voxels are kept, so masks with holes or islands give valid meshes.
#pragma once

#include <functional>
#include <map>

#include "mesh/mesh.h"

namespace flare::am::test {

inline mesh::Mesh voxel_part(int nx, int ny, int nz, double h,
                             const std::function<bool(int, int, int)>& filled,
                             mesh::CellType type = mesh::CellType::Hexahedron) {
  mesh::Mesh m;
  std::map<std::array<int, 3>, std::int64_t> ids;
  std::vector<double> xyz;
  auto node = [&](int i, int j, int k) {
    auto [it, inserted] = ids.try_emplace({i, j, k}, std::int64_t(ids.size()));
    if (inserted) xyz.insert(xyz.end(), {i * h, j * h, k * h});
    return it->second;
  };
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        if (!filled(i, j, k)) continue;
        const std::int64_t v[8] = {node(i, j, k),         node(i + 1, j, k),     node(i + 1, j + 1, k),
                                   node(i, j + 1, k),     node(i, j, k + 1),     node(i + 1, j, k + 1),
                                   node(i + 1, j + 1, k + 1), node(i, j + 1, k + 1)};
        if (type == mesh::CellType::Voxel) {
          const std::int64_t vox[8] = {v[0], v[1], v[3], v[2], v[4], v[5], v[7], v[6]};
          m.add_cell(type, vox, 8);
        } else {
          m.add_cell(type, v, 8);
        }
      }
  m.points = Eigen::Map<const mesh::Points>(xyz.data(), std::int64_t(xyz.size() / 3), 3);
  return m;
}

}  // namespace flare::am::test
