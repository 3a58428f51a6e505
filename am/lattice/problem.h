// The voxel-lattice process problem as the lattice solver sees it: a batch of parts, each a box of
// solid/empty cells with its build order, all sharing one element (a unit cube: every part is
// solved in units of its own voxel size, which is exact for the linear inherent-strain model: the
// displacement scales with the voxel size, stresses do not).
//
// Lattice numbering of one part: cells (i, j, k), 0 <= i < nx, ..., flat index i + nx (j + ny k);
// nodes (i, j, k), 0 <= i <= nx, ..., flat index i + (nx + 1) (j + (ny + 1) k). k = 0 is the plate.
// Element corner a sits at cell + kCorner[a] (VTK_HEXAHEDRON order), element DOFs node-major.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace flare::am::lattice {

struct Part {
  int nx = 0, ny = 0, nz = 0;      ///< cells per axis
  std::vector<std::uint8_t> solid;  ///< [nx ny nz] 1 = material
  /// [groups] solid layers active after each group: layers k < k_top[g]. Non-decreasing; a group
  /// that adds no layer is skipped.
  std::vector<int> k_top;
  /// [groups] lattice nodes held fixed in that group's solve (pieces not yet joined to the plate:
  /// am/build_plan.h).
  std::vector<std::vector<std::int64_t>> held;
  /// [nodes] lattice nodes held by supports during the build (empty: none).
  std::vector<std::uint8_t> supported;
  /// Lattice DOFs (3 node + component) fixed in the release solve (the 3-2-1 support).
  std::array<std::int64_t, 6> support{};
  /// CG relative residual of this part; 0: the problem's rtol. Parts of one batch may differ
  /// (a dataset's coarse lattices beside its full parts, SimulationOptions::coarse_rtol).
  double rtol = 0;
  std::string name;                 ///< for errors
  std::int64_t nodes() const { return std::int64_t(nx + 1) * (ny + 1) * (nz + 1); }
  std::int64_t cells() const { return std::int64_t(nx) * ny * nz; }
};

struct Problem {
  std::vector<Part> parts;
  std::array<double, 576> ke{};    ///< unit-cube stiffness, row-major 24 x 24
  std::array<double, 24> fe{};     ///< unit-cube eigenstrain load
  std::array<double, 144> bbar{};  ///< mean strain-displacement matrix over the Gauss points, 6 x 24
  std::array<double, 36> d{};      ///< elasticity, 6 x 6
  std::array<double, 6> eps{};     ///< inherent strain (Voigt)
  bool release = false;
  double rtol = 1e-8;
  int max_iterations = 2000;
};

// Coarsening stops when every part's box is at most this many cells per axis: the coarsest level
// (<= 64 nodes, kDense DOFs) is inverted exactly. Measured with the CPU solver on
// examples/lpbf/bracket.vtu, 10 groups: a 150-node coarsest level took 117 CG iterations, an
// 8-node one (a single cell) 172.
inline constexpr int kCoarsestCells = 3;
inline constexpr int kDense = 3 * (kCoarsestCells + 1) * (kCoarsestCells + 1) * (kCoarsestCells + 1);

struct Solution {
  std::vector<double> u;          ///< [3 nodes] in voxel units (multiply by the voxel size)
  std::vector<double> von_mises;  ///< [nodes] averaged over the node's elements
  long iterations = 0;            ///< CG iterations, all groups
  int solves = 0;
};

using GroupCallback = std::function<void(int group, int groups)>;

/// The solver on the CPU (OpenMP): the same algorithm and arithmetic order as the GPU one.
std::vector<Solution> solve_host(const Problem& problem, const GroupCallback& on_group);
/// The solver on the current CUDA device. Throws InputError when the batch does not fit in the
/// device's memory (naming the largest part, its nodes and the memory needed).
std::vector<Solution> solve_cuda(const Problem& problem, const GroupCallback& on_group);
/// Bytes of device memory the solver needs for `problem` (all buffers, all levels).
std::int64_t memory_needed(const Problem& problem);

}  // namespace flare::am::lattice
