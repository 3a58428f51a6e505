// What every process solver needs before it solves: the part's hex elements, the build plate, the
// layer groups in build order and each node's birth group; and what every solver writes after:
// the output arrays and field data. Shared by the CPU solver (am/simulate.cpp) and the voxel
// lattice solver (am/lattice_solver.h), so both see exactly the same problem.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "am/simulate.h"
#include "mesh/mesh.h"

namespace flare::am {

using HexElement = std::array<std::int64_t, 8>;  ///< node indices in VTK_HEXAHEDRON order

struct BuildPlan {
  std::vector<HexElement> elements;  ///< #E, VTK_VOXEL cells renumbered to hexahedron order
  std::vector<char> on_plate;        ///< [nodes] 1 on the plane z = z_min
  std::vector<std::int64_t> plate;   ///< the plate nodes, ascending
  double z_min = 0, height = 0;
  int groups = 0;                    ///< slabs K (empty ones included)
  double slab = 0;                   ///< slab height (mm)
  std::vector<int> group_of;         ///< [E] slab holding the element's centroid
  std::vector<std::vector<std::int64_t>> members;  ///< [K] elements per slab
  std::vector<int> birth;            ///< [nodes] lowest group of the node's elements, -1 if none
  /// [K] nodes held fixed in group k's solve: those of pieces not yet joined face to face to the
  /// plate through the active part (started in mid-air; a real build holds them on supports).
  std::vector<std::vector<std::int64_t>> held;
  /// [nodes] 1 on an overhanging face held by supports (options.supports), else 0.
  std::vector<char> supported;
  int solves() const;                ///< non-empty groups
};

/// Validates the part and options (empty mesh, non-hex cells, pieces not joined face to face to
/// the plate, bad material or layering) and plans the build: layer groups are slabs of
/// opts.layer_height from the plate when it is > 0 (elements join by centroid, so slabs thinner
/// than an element layer stay empty and the build goes one element layer at a time), otherwise
/// opts.layer_groups slabs of equal height.
BuildPlan plan_build(const mesh::Mesh& part, const SimulationOptions& opts);

/// The six DOFs (3 * node + component) of a 3-2-1 support on the plate nodes: one node fixed, a
/// far node fixed in the two directions normal to the line between them, a third node off that
/// line fixed in z. Removes exactly the rigid-body modes and adds no reaction to a self-equilibrated
/// load. InputError when the footprint is a single line of nodes.
std::array<std::int64_t, 6> rigid_body_support(const mesh::Mesh& part, const std::vector<std::int64_t>& plate);

/// The OpenMP thread count of a solve (SimulationOptions::threads; 0 keeps the default), set for
/// the calling thread and restored when the scope ends. nthreads-var is per calling thread, so
/// parallel jobs do not interfere.
class SolverThreads {
 public:
  explicit SolverThreads(int threads);
  ~SolverThreads();
  SolverThreads(const SolverThreads&) = delete;
  SolverThreads& operator=(const SolverThreads&) = delete;

 private:
  int m_saved;
};

/// Adds the solver outputs to `part`: "displacement" ([nodes, 3] from u, node-major),
/// "von_mises" ([nodes], already averaged to nodes), "layer" (the birth group) and the field data
/// (material, E, nu, inherent strain, layer_groups, layer_height, release).
void write_outputs(mesh::Mesh& part, const BuildPlan& plan, const SimulationOptions& opts,
                   const std::vector<double>& u, const std::vector<double>& von_mises);

}  // namespace flare::am
