// Structured hexahedral grids as unstructured Meshes: the benchmark mesh, the bundled example and
// test fixtures. (LPBF voxel meshes on a build plate live in am/.)
#pragma once

#include <functional>

#include "mesh/mesh.h"

namespace flare::mesh {

/// Hexahedral grid of nx × ny × nz cells of size h, corner at the origin, x fastest. When `keep`
/// is given, only cells (i, j, k) with keep(i, j, k) are made, and points no kept cell uses are
/// dropped. Point order: x fastest, then y, then z.
Mesh hex_grid(int nx, int ny, int nz, double h,
              const std::function<bool(int, int, int)>& keep = {});

}  // namespace flare::mesh
