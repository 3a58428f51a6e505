// Geometric multigrid preconditioner for hex meshes on a voxel lattice (all elements equal
// axis-aligned boxes): the V-cycle that makes CG iteration counts nearly independent of mesh size.
//
// Levels: level l has the lattice nodes of spacing 2^l h that are corners of coarse cells holding
// fine elements. Prolongation is trilinear interpolation (so rigid-body modes are reproduced
// exactly), and the coarse operators are Galerkin (P^T A P) assembled element by element: a fine
// element contributes W^T K_e W to the one coarse cell containing it at each level, with W its
// 8x8 trilinear weights. This makes the hierarchy incremental, which the layer-by-layer build
// needs: activating a group adds its elements to every level, no re-coarsening.
// Constraints: a coarse DOF is fixed when a fixed fine DOF interpolates from it; for the plate this
// is exactly the Galerkin operator of the constrained problem, for the release step's 3-2-1 support
// it over-constrains the coarse levels slightly (still an SPD preconditioner).
// Smoother: damped block-Jacobi (3x3 per node), 2 pre + 2 post sweeps, omega = 4 / (3 lambda_max)
// with lambda_max(D^-1 A) from a few power iterations; coarsest level: dense Cholesky.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "am/block_csr.h"
#include "am/hex8.h"
#include "mesh/mesh.h"

namespace flare::am {

class VoxelMultigrid {
 public:
  using Element = std::array<std::int64_t, 8>;

  /// A hierarchy for `part`/`elements` (hex node order) if they form a voxel lattice; nullptr
  /// otherwise. `fine` is the fine-level matrix; it must outlive the multigrid.
  static std::unique_ptr<VoxelMultigrid> build(const mesh::Mesh& part,
                                               const std::vector<Element>& elements,
                                               const BlockCsr& fine);

  /// Adds the Galerkin contributions of fine elements `ids` (stiffness `ke`, the same for all
  /// lattice elements) to the coarse levels. Call alongside BlockCsr::add_element on the fine one.
  void add_elements(const std::vector<std::int64_t>& ids, const HexMatrix& ke);
  /// Prepares smoothers, coarse masks and the coarsest factorization for the fine active rows
  /// and free mask (free: [3 * nodes]). Call before preconditioning with a changed matrix or mask.
  void update(const std::vector<std::int64_t>& fine_rows, const std::vector<double>& fine_free);
  /// z = V-cycle(r) on the fine active rows (z, r: [3 * nodes]).
  void apply(const std::vector<double>& r, std::vector<double>& z);
  int levels() const { return int(m_levels.size()); }

 private:
  struct Level {
    std::vector<Eigen::Vector3i> coord;     // lattice coordinates in this level's spacing
    std::vector<Element> elements;          // coarse cells (levels >= 1)
    std::unique_ptr<BlockCsr> own;          // coarse operator (levels >= 1)
    const BlockCsr* a = nullptr;
    std::vector<std::int64_t> rows;         // active nodes
    std::vector<char> active;               // [nodes]
    std::vector<double> free;               // [3 * nodes]
    std::vector<Eigen::Matrix3d> inv_diag;  // [rows]
    double omega = 0.5;
    // Transfer to the next coarser level: parents of each node (CSR) and its transpose.
    std::vector<std::int64_t> up_start, up_node, down_start, down_node;
    std::vector<double> up_weight, down_weight;
    std::vector<double> x, b, r;            // work vectors [3 * nodes]
    std::int64_t nodes() const { return std::int64_t(coord.size()); }
  };

  VoxelMultigrid() = default;
  void smooth(Level& lv, int sweeps);
  void residual(Level& lv);
  void cycle(int l);
  double estimate_lambda_max(Level& lv);

  std::vector<Level> m_levels;
  // Per coarse level l >= 1: each cell's lattice base corner, whether it holds active elements,
  // and its parent cell at level l + 1. Fine elements: their level-1 cell.
  std::vector<std::vector<Eigen::Vector3i>> m_cell_base;
  std::vector<std::vector<char>> m_cell_active;
  std::vector<std::vector<std::int64_t>> m_cell_parent;
  std::vector<std::int64_t> m_element_cell;
  std::vector<Eigen::Vector3i> m_element_base;
  std::array<HexMatrix, 8> m_w;           // kron(W_o, I3): child cell at offset o -> parent cell
  std::vector<std::int64_t> m_coarse_dof;  // coarsest free DOFs, in dense order
  Eigen::LLT<Eigen::MatrixXd> m_coarse_llt;
};

}  // namespace flare::am
