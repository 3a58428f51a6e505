// A boolean voxel grid and the hexahedral mesh made from it: the common representation of LPBF
// parts (procedural families in am/geometry.h, voxelised STLs in am/voxelize.h) before the process
// simulation.
//
// Voxel (i, j, k) is the cube [origin + h*(i,j,k), origin + h*(i+1,j+1,k+1)], h = voxel; its flat
// index is i + nx*(j + ny*k). The build plate is the bottom face of the lowest solid layer.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "mesh/mesh.h"

namespace flare::am {

struct VoxelGrid {
  Eigen::Vector3d origin = Eigen::Vector3d::Zero();  ///< corner of voxel (0,0,0)
  double voxel = 1.0;                                ///< edge length h
  int nx = 0, ny = 0, nz = 0;
  std::vector<std::uint8_t> solid;  ///< nx*ny*nz, 1 = material; index i + nx*(j + ny*k)

  /// An all-empty grid of the given shape.
  static VoxelGrid empty(const Eigen::Vector3d& origin, double voxel, int nx, int ny, int nz);
  std::int64_t size() const { return std::int64_t(nx) * ny * nz; }
  std::int64_t index(int i, int j, int k) const { return i + std::int64_t(nx) * (j + std::int64_t(ny) * k); }
  bool at(int i, int j, int k) const { return solid[index(i, j, k)] != 0; }
  /// Number of solid voxels.
  std::int64_t count_solid() const;
  /// Number of distinct corner nodes of the solid voxels (= points of voxel_mesh without islands).
  std::int64_t count_nodes() const;
};

/// What keep_plate_connected removed.
struct IslandReport {
  int components = 0;             ///< face-connected components before filtering
  int dropped_islands = 0;        ///< components not touching the plate (removed)
  std::int64_t dropped_voxels = 0;
};

/// Removes every face-connected component of solid voxels that has no voxel in the lowest solid
/// layer (a floating island cannot be built or held by the plate). Face connectivity, not edge or
/// corner: two hexahedra sharing only an edge form a hinge, which makes the stiffness singular.
IslandReport keep_plate_connected(VoxelGrid& grid);

/// Removes every face-connected component but the largest (the first of equal ones), reporting
/// them as dropped islands.
IslandReport keep_largest_component(VoxelGrid& grid);

/// Fills every face-connected region of empty voxels that does not reach the grid's boundary (an
/// enclosed cavity: powder trapped in the part) and has at most `max_voxels` voxels: the
/// pinholes that sampling a slanted or twisted wall at voxel centres can leave. Larger cavities
/// are left alone (a design that makes one should be caught by its family's tests).
/// @return the number of voxels filled
std::int64_t fill_pinholes(VoxelGrid& grid, std::int64_t max_voxels);

/// Face-connected components of the solid voxels: label per voxel (-1 empty, else 0..count-1).
/// @param[out] labels  nx*ny*nz
/// @return number of components
int label_components(const VoxelGrid& grid, std::vector<std::int32_t>& labels);

/// Hexahedral mesh of the solid voxels (VTK_HEXAHEDRON, VTK node order, nodes shared between
/// neighbouring voxels), placed on the build plate: z = 0 at the bottom of the lowest solid layer;
/// x and y keep the grid's coordinates. Floating islands are dropped first (see
/// keep_plate_connected; `report` says what was dropped). Adds cell data "voxel_ijk" (int32, 3
/// components) and field data "voxel_size".
/// Throws InputError if no solid voxel is left.
mesh::Mesh voxel_mesh(const VoxelGrid& grid, IslandReport* report = nullptr);

}  // namespace flare::am
