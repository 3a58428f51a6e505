// Test helper: the closed surface of an axis-aligned box, 12 outward triangles (each face's
// diagonal runs corner to corner), for the voxelisation tests.
#pragma once

#include <Eigen/Core>

#include "mesh/mesh.h"

namespace flare::am::test {

inline mesh::Mesh box_surface(const Eigen::Vector3d& lo, const Eigen::Vector3d& hi) {
  mesh::Mesh m;
  m.points.resize(8, 3);
  for (int c = 0; c < 8; ++c)
    m.points.row(c) << (c & 1 ? hi.x() : lo.x()), (c & 2 ? hi.y() : lo.y()), (c & 4 ? hi.z() : lo.z());
  const int quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  for (auto& q : quads) {
    m.add_cell(mesh::CellType::Triangle, {q[0], q[1], q[2]});
    m.add_cell(mesh::CellType::Triangle, {q[0], q[2], q[3]});
  }
  return m;
}

}  // namespace flare::am::test
