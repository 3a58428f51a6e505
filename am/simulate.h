// The LPBF process simulation: layer-by-layer inherent strain on a hexahedral part mesh
// (design: docs/lpbf.md). Linear elasticity, small strain, hex8 trilinear elements with 2x2x2
// Gauss integration, build plate at z = min z.
//
//   for each layer group k = 1..K (bottom to top, by element centroid z):
//       solve K_active du_k = f_k,  f_k = sum_{e in group k} int B^T D eps* dV   (plate fixed)
//       u += du_k on nodes of active elements (nodes born in group k start from zero)
//   optional release: drop the plate, keep the rigid-body modes fixed, solve the springback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "am/material.h"
#include "mesh/mesh.h"

namespace flare::am {

/// Default layer-group height (mm) of `am simulate` and `am dataset`. The layering study
/// (docs/layering_study.md) found no layer height within 5% of the next finer one within reach
/// (differences shrink about as the square root of the height): the default is the finest the
/// GPU affords for datasets, one voxel layer per group at every voxel size of 0.1 mm and above.
inline constexpr double kDefaultLayerHeight = 0.1;

struct SimulationOptions {
  Material material = material_by_name("ti64");
  int layer_groups = 10;  ///< K equal slabs; 1 = single-step (used when layer_height is 0)
  /// Layer groups of this physical height (mm) from the plate, the same for every part; the
  /// finest build is one element layer per group. 0: layer_groups slabs per part.
  double layer_height = 0;
  bool release = false;   ///< release from the plate after the build
  double rtol = 1e-8;     ///< CG relative residual
  /// CG relative residual of a coarse solve's lattices (am/coarse_solve.h). Its field is ~0.5
  /// from the full solve, so 1e-8 bought nothing: measured on three held-out parts at twice their
  /// voxel, 1e-5 takes 43-51% fewer CG iterations and moves the field by 4.6e-4..8.5e-4
  /// (relative L2); 1e-4 moved it by 0.9-3.4%.
  double coarse_rtol = 1e-5;
  /// Precondition CG with geometric multigrid when the mesh is a voxel lattice (all elements equal
  /// axis-aligned boxes); false, or any other hex mesh: block-Jacobi.
  bool multigrid = true;
  /// OpenMP threads for this solve (set for the calling thread only, restored after); 0 = the
  /// OpenMP default. Parallel sample generation should run each solve with 1: the solver's
  /// fine-grained parallel loops slow down badly when threads outnumber free cores.
  int threads = 0;
  /// Rigid supports under overhanging faces (bottom faces with no element below them, not even
  /// diagonally: steeper than 45 degrees is self-supporting), holding their nodes from birth to
  /// the end of the build as support structures do; the release removes them with the plate.
  /// Without them a thin unsupported overhang sags more with every thinner layer and the build
  /// has no converged answer (docs/layering_study.md).
  bool supports = false;
  /// "cpu": block-CSR stiffness, any hex mesh. "cuda": the matrix-free voxel-lattice solver on the
  /// GPU (am/lattice_solver.h); voxel meshes only. "lattice-host": that solver's algorithm on the
  /// CPU (what the tests without a GPU check it through).
  std::string device = "cpu";
};

struct SimulationReport {
  double seconds = 0;
  int groups = 0;           ///< slabs K (empty ones included)
  int solves = 0;           ///< non-empty groups, plus one for the release
  long cg_iterations = 0;
  /// Lattice devices: wall time of the host preparation (plan, lattice map) and of the solve,
  /// shared by the parts of a batch (the batch's totals).
  double prepare_seconds = 0, solve_seconds = 0;
  std::int64_t nodes = 0, elements = 0;
};

/// Solves on a hexahedral mesh (VTK hexahedron or voxel cells) whose build plate is the plane
/// z = min z (nodes there are fixed). Adds point arrays "displacement" (3 comps, float64),
/// "von_mises" (float64, element values averaged to nodes), "layer" (int32, the group in which
/// the node was born) and field data (material name, E, nu, inherent strain, layer_groups,
/// layer_height, release). Points in no element get zero displacement and stress and layer -1.
/// Groups are slabs (of layer_height, or K of equal height) from the plate up; an element joins
/// the group holding its centroid; empty groups are skipped (but still reported to on_group).
/// @param[in,out] part     hex mesh; arrays are added to it
/// @param[in]     opts     material, layer groups, release, solver tolerance
/// @param[in]     on_group called after each group's solve with (group index from 0, groups)
/// Throws InputError for an empty mesh, non-hex cells, inverted cells, or pieces not joined face
/// to face to the plate (floating islands, edge or corner hinges).
SimulationReport simulate(mesh::Mesh& part, const SimulationOptions& opts,
                          const std::function<void(int group, int groups)>& on_group = {});

/// One part of a simulate_batch, with what may differ between the parts of a batch.
struct BatchPart {
  mesh::Mesh* mesh = nullptr;
  std::string name;  ///< in errors
  double rtol = 0;   ///< CG relative residual; 0: the batch options' rtol
};

/// Simulates several parts with the same options; on the lattice devices they are solved together
/// (one launch covers every part, so small parts fill the GPU). on_group(group, groups) reports
/// the batch's progress.
std::vector<SimulationReport> simulate_batch(const std::vector<BatchPart>& parts,
                                             const SimulationOptions& opts,
                                             const std::function<void(int group, int groups)>& on_group = {});
/// The same for parts that differ in nothing but their `names` (same length, or empty: "part i").
std::vector<SimulationReport> simulate_batch(const std::vector<mesh::Mesh*>& parts,
                                             const SimulationOptions& opts,
                                             const std::vector<std::string>& names = {},
                                             const std::function<void(int group, int groups)>& on_group = {});

}  // namespace flare::am
