// Geometric measures of cells: length (1D), area (2D), volume (3D). Used by `info`, by features
// (per-point volume shares) and by tests that check a mesh against its known size.
#pragma once

#include <cstdint>

#include "mesh/mesh.h"

namespace flare::mesh {

/// Unsigned measure of cell `cell` in its own dimension: 0 for vertices, length for lines, area for
/// surface cells, volume for volume cells. Quadratic cells are measured by their linear corners
/// (exact for straight-sided elements, an approximation for curved ones).
double cell_measure(const Mesh& mesh, std::int64_t cell);

/// Sum of cell_measure over the 3D cells (0 when there are none).
double mesh_volume(const Mesh& mesh);

/// Sum of cell_measure over the 2D cells (0 when there are none).
double mesh_area(const Mesh& mesh);

/// Median length of the cells' edges (corner to corner, by each type's edge table; quadratic
/// cells by their corners; poly-lines, strips and polygons by consecutive vertices), 0 for a mesh
/// without edges. On a voxel mesh this is the voxel size. At most `max_cells` cells, evenly
/// strided, are sampled so the cost stays bounded on very large meshes.
double median_edge_length(const Mesh& mesh, std::int64_t max_cells = 200000);

}  // namespace flare::mesh
