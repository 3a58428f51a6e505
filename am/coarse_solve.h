// The process simulation of a part at a coarser voxel, sampled back at the part's own nodes: a
// cheap physics estimate to set beside the surrogate where the surrogate is unsure (`predict
// --coarse-solve`, docs/architecture.md "A coarse solve beside the surrogate").
//
// At twice the voxel a part has an eighth of the elements and half the layer groups, so the solve
// costs a few percent of the full one; its displacement is about 0.5 from the full solve (relative
// L2) on every kind of part, while the surrogate is at 0.05-0.2 on shapes it learnt and 0.2-0.8 on
// shapes it did not. The two err differently, so their inverse-variance combination beats either
// where the surrogate's own error is large (examples/heldout/README.md).
#pragma once

#include <Eigen/Core>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "am/simulate.h"
#include "am/voxel_grid.h"
#include "mesh/mesh.h"

namespace flare::am {

/// The voxel grid of a voxel mesh (equal axis-aligned cubes on one lattice, as voxel_mesh and `am
/// voxelize` write them). InputError naming `source` for any other mesh (no cells, cells that are
/// not hexahedra, cells of another size or off the lattice).
VoxelGrid voxel_grid_of(const mesh::Mesh& part, const std::string& source);

/// The grid at `factor` times the voxel, sampled at the coarse voxels' centres as `am voxelize`
/// samples a surface: coarse voxel (I, J, K) takes fine voxel (f I + o_x, f J + o_y, f K + o_z),
/// its lattice shifted so that each coarse centre is that fine voxel's centre (each offset in
/// 0..f-1: one of the f^3 placements). Walls keep their thickness on average. Counting the fine
/// voxels instead (solid when half of them are) thickened every wall one fine voxel thick to two:
/// a hinge's leaves doubled, and its coarse solve was 2.2 from the truth against 0.5.
VoxelGrid coarsen(const VoxelGrid& grid, int factor, const std::array<int, 3>& offset = {0, 0, 0});

/// Values of the point array `name` (3 components) of coarse voxel mesh `coarse`, a solved
/// voxel_mesh of `grid`, at the points of `part`: trilinear inside a solid coarse voxel (a point on
/// a lattice plane, within rounding, in any solid voxel beside it), else the mean of the nearest
/// coarse nodes (within the voxels around the point, then anywhere; ties averaged, so that the
/// value does not depend on which side of a plane rounding puts a moved point). [N, 3] in part's
/// point order. `coarse` must be the mesh voxel_mesh(grid) made (same lattice, z shifted so that
/// the plate is at 0, which `z_shift` gives back).
Eigen::MatrixX3d sample_at_points(const mesh::Mesh& coarse, const VoxelGrid& grid, double z_shift,
                                  const mesh::Mesh& part, const std::string& name);

struct CoarseSolve {
  Eigen::MatrixX3d displacement;  ///< [N, 3] at the part's points: the mean over the lattices
  int lattices = 0;               ///< placements solved (those where something of the part is left)
  std::int64_t nodes = 0;         ///< of all their meshes together
  /// RMS distance of the lattices' fields from their mean, relative to the mean's norm: where the
  /// placements disagree (features about a coarse voxel thick, resolved on one lattice and not on
  /// the other) the coarse estimate is itself unreliable.
  double spread = 0;
  double voxel = 0, seconds = 0;
};

/// The point array of the coarse solve's displacement: written by `am dataset --coarse-field`,
/// read by models trained with it as an input (`dataset build --inputs displacement_coarse`), and
/// by `predict --coarse-solve` as the coarse half of its combination.
inline constexpr const char* kCoarseField = "displacement_coarse";
/// The coarsening of `predict --coarse-solve` and of that field: twice the voxel (the measured
/// balance of cost and error, docs/architecture.md).
inline constexpr int kCoarseFactor = 2;
/// How the field was made, as `am dataset` records it in each sample (field "coarse_field"): a
/// sample whose field was made another way is solved again rather than mixed in.
inline constexpr const char* kCoarseFieldMethod = "2x voxel, mean of the 4 in-plane lattices";

/// The coarse lattices of voxel mesh `part`, unsolved: one voxel mesh per in-plane placement
/// (coarsen's offsets (o_x, o_y, 0), all f^2 of them) on which something of the part is left.
/// The set of in-plane placements is mapped onto itself by the symmetries of the process (a turn
/// of the part by 90 degrees about z, a mirror in x or y, a move on the plate), so their mean
/// turns with the part exactly; the two diagonal placements used before did not (a wishbone
/// turned by 90 degrees changed its coarse field by 0.32, relative L2, and a model reading it
/// followed). z is not a symmetry (the part stands on the plate): every placement keeps the
/// plate's layer. Solving them is the caller's (one by one, or in a batch with other parts' on the
/// GPU); combine_coarse samples them back.
struct CoarseMeshes {
  std::vector<VoxelGrid> grids;
  std::vector<mesh::Mesh> meshes;  ///< voxel_mesh of each grid
  std::vector<double> z_shift;     ///< sample_at_points' z_shift of each
  double voxel = 0;
  /// Appends the lattices to a batch for simulate_batch, named "<source> (coarse lattice L)",
  /// each solved to `rtol` (SimulationOptions::coarse_rtol of the batch).
  void add_to_batch(std::vector<BatchPart>& batch, const std::string& source, double rtol);
};
/// InputError naming `source` when the part is no voxel mesh.
CoarseMeshes coarse_meshes(const mesh::Mesh& part, int factor, const std::string& source);

/// The solved meshes of coarse_meshes (each with its displacement) sampled at the points of
/// `part` and averaged (seconds left 0).
CoarseSolve combine_coarse(const CoarseMeshes& solved, const mesh::Mesh& part);

/// Stores c.displacement as the point array kCoarseField of `part`.
void put_coarse_field(mesh::Mesh& part, const CoarseSolve& c);

/// For a model whose recipe reads the point arrays `inputs`: when they include kCoarseField and
/// `part` lacks it, solves the part at kCoarseFactor times its voxel with `opts` and stores the
/// field. Returns that solve, or nullopt when nothing was needed. InputError naming `source` (and
/// saying how to get a voxel mesh) when the part is no voxel mesh.
std::optional<CoarseSolve> ensure_coarse_field(mesh::Mesh& part, const std::vector<std::string>& inputs,
                                               const SimulationOptions& opts, const std::string& source);

/// Coarsens voxel mesh `part` by `factor` on each of its `factor`^2 in-plane placements
/// (coarse_meshes), simulates each with `opts` (the same process as the full solve, to its
/// coarse_rtol), samples them at the part's points and averages them. InputError naming `source`
/// when the part is no voxel mesh.
CoarseSolve coarse_solve(const mesh::Mesh& part, const SimulationOptions& opts, int factor,
                         const std::string& source);

/// `am simulate`'s default process (layer groups of kDefaultLayerHeight, supports), on `device`:
/// what the bundled model's data were made with, so what its coarse companion solves.
SimulationOptions default_process(const std::string& device = "cpu");

/// The weight of the surrogate in the inverse-variance combination of two estimates whose
/// relative errors are expected to be `score` (the surrogate's, e.g. an ensemble's calibrated
/// score) and `sigma_coarse` (the coarse solve's): sigma_coarse² / (score² + sigma_coarse²).
/// Each is weighted by the inverse square of its expected error, as for independent errors.
double surrogate_weight(double score, double sigma_coarse);

struct CoarseBlend {
  CoarseSolve solve;
  double weight = 1;           ///< on the surrogate; 1 - weight on the coarse solve
  double estimated_error = 0;  ///< of the combination: 1 / sqrt(1/score² + 1/sigma_coarse²)
};

/// On a voxel mesh that carries the surrogate's prediction `<target>_pred` (3 components): solves
/// it at `factor` times its voxel (coarse_solve), keeps the surrogate's field as `<target>_model`
/// and the coarse one as `<target>_coarse`, and makes `<target>_pred` (and `_pred_magnitude`,
/// `_error` where the truth `<target>` is present) their combination with surrogate_weight().
CoarseBlend blend_coarse_solve(mesh::Mesh& part, const std::string& target, double score,
                               double sigma_coarse, const SimulationOptions& opts, int factor,
                               const std::string& source);

}  // namespace flare::am
