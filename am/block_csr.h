// A symmetric stiffness matrix stored as 3x3 blocks in node-level CSR (one block per pair of
// nodes that share an element), and the block-Jacobi preconditioned CG that solves with it.
//
// Why this layout: the pattern is fixed by the mesh, so it is built once; the layer-by-layer
// simulation then adds each group's element matrices into the existing slots (no re-assembly,
// no triplet sort per group), and the solve touches only the rows of active nodes.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "am/hex8.h"

namespace flare::am {

class BlockCsr {
 public:
  /// Pattern from hex elements: `elements` is #E by 8 node indices into #nodes nodes.
  BlockCsr(std::int64_t nodes, const std::vector<std::array<std::int64_t, 8>>& elements);

  std::int64_t nodes() const { return std::int64_t(m_row.size()) - 1; }
  /// Adds an element matrix (node-major DOFs) into the blocks of its 8 nodes.
  void add_element(const std::array<std::int64_t, 8>& element, const HexMatrix& ke);
  /// y = K x on the rows in `rows` (other rows of y untouched). x, y: [3 * nodes].
  void multiply(const std::vector<std::int64_t>& rows, const double* x, double* y) const;
  /// The 3x3 diagonal block of node i.
  Eigen::Matrix3d diagonal(std::int64_t i) const;
  /// Row i's blocks are p in [row_begin(i), row_end(i)): column node col(p), values block(p)
  /// (3x3 row-major).
  std::int64_t row_begin(std::int64_t i) const { return m_row[i]; }
  std::int64_t row_end(std::int64_t i) const { return m_row[i + 1]; }
  std::int64_t col(std::int64_t p) const { return m_col[p]; }
  const double* block(std::int64_t p) const { return m_val.data() + 9 * p; }

 private:
  std::int64_t slot(std::int64_t i, std::int64_t j) const;

  std::vector<std::int64_t> m_row;  // [nodes + 1]
  std::vector<std::int64_t> m_col;  // [blocks]
  std::vector<double> m_val;        // [blocks, 3, 3] row-major
};

/// Per row of `rows`: the inverse of the node's 3x3 diagonal block on its free DOFs (zero rows and
/// columns for constrained ones). free: [3 * nodes].
std::vector<Eigen::Matrix3d> block_jacobi_inverse(const BlockCsr& k, const std::vector<std::int64_t>& rows,
                                                  const std::vector<double>& free);

struct CgResult {
  int iterations = 0;
  double relative_residual = 0;
};

/// Solves K x = b for the DOFs with free[d] = 1 on the nodes in `rows` (every node carrying a
/// nonzero DOF must be listed); constrained DOFs (free[d] = 0) keep x[d] = 0. x holds the initial
/// guess on entry. Block-Jacobi (3x3 per node) preconditioned CG, stopping at
/// ||r|| <= rtol ||b||; throws flare::Error if it has not converged after `max_iterations`.
/// x, b, free: [3 * nodes].
/// `precondition(r, z)`, when given, replaces block-Jacobi: it must set z on every DOF of `rows`
/// (zero where free is 0) and be symmetric positive definite on the free DOFs.
using Preconditioner = std::function<void(const std::vector<double>& r, std::vector<double>& z)>;
CgResult solve_pcg(const BlockCsr& k, const std::vector<std::int64_t>& rows,
                   const std::vector<double>& free, const std::vector<double>& b,
                   std::vector<double>& x, double rtol, int max_iterations,
                   const Preconditioner& precondition = {});

}  // namespace flare::am
