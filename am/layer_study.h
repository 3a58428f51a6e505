// The layering convergence study behind the default layer-group height: the displacement field of
// the same parts as the layer height and the voxel size are halved, compared on the nodes the
// meshes share (a voxel grid halved keeps the coarse nodes) and on a smoothed field (box averages
// a few millimetres wide, which removes the layer-scale ripple and keeps the part-scale shape).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "am/simulate.h"
#include "mesh/mesh.h"

namespace flare::am {

/// A closed surface scaled so its largest extent is `size` (mm), voxelised with `voxels` voxels
/// across that extent, as a plate-standing hex mesh (islands dropped).
mesh::Mesh study_part(const mesh::Mesh& surface, double size, int voxels, const std::string& source);

/// Relative L2 difference ||a - b|| / ||b|| of the point array `array` over the points of `a` that
/// `b` also has (same coordinates to 1e-6 of the finer voxel). `shared` gets the count.
double shared_node_difference(const mesh::Mesh& a, const mesh::Mesh& b, const std::string& array,
                              std::int64_t* shared = nullptr);

/// The same on box averages: each mesh's field averaged over the cubes of edge `box` (a grid from
/// the origin), compared on the cubes both meshes have points in.
double smooth_difference(const mesh::Mesh& a, const mesh::Mesh& b, const std::string& array, double box);

struct StudyRow {
  std::string part;
  double size = 0;       ///< mm
  double voxel = 0;      ///< mm
  double layer = 0;      ///< layer-group height asked for (mm); <= voxel: one voxel layer
  std::int64_t nodes = 0;
  int solves = 0;
  double max_u = 0;      ///< mm
  double seconds = 0;
  double to_half_layer = -1;         ///< vs the same voxel with half the layer height (-1: none)
  double to_half_layer_smooth = -1;
  double to_half_voxel = -1;         ///< vs the same layer height on the voxel halved
  double to_finest = -1;             ///< vs the finest layering on the finest voxel
};

struct StudyChoice {
  double layer = 0;     ///< the default layer height (mm)
  bool within = false;  ///< false: some part had no layer height within target
  double worst = 0;     ///< the largest difference to the next finer layering behind the choice
};

/// The rule of issue 15, per part on its finest voxel: the coarsest layer height whose field is
/// within `target` (relative L2) of the next finer layering; the default is the smallest of
/// these over the parts, so every part is within target. A part with none contributes the finest
/// layering studied on it (whose error is about its last difference, stated as `worst`).
StudyChoice choose_layer_height(const std::vector<StudyRow>& rows, double target = 0.05);

}  // namespace flare::am
