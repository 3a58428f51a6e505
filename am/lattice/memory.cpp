#include <algorithm>

#include "am/lattice/exec.h"
#include "am/lattice/problem.h"

namespace flare::am::lattice {

std::int64_t memory_needed(const Problem& problem) {
  // Mirrors Solver::setup: per level, chunk-padded nodes and box cells; coarse cells with
  // material (bounded here by the fine solid count) carry a 24x24 fp32 matrix.
  std::int64_t bytes = 0;
  std::int64_t solid = 0;
  for (const Part& p : problem.parts) solid += std::count(p.solid.begin(), p.solid.end(), std::uint8_t(1));
  std::vector<std::array<int, 3>> dims;
  for (const Part& p : problem.parts) dims.push_back({p.nx, p.ny, p.nz});
  for (int l = 0;; ++l) {
    std::int64_t nodes = 0, cells = 0;
    bool one = true;
    for (const auto& d : dims) {
      const std::int64_t n = std::int64_t(d[0] + 1) * (d[1] + 1) * (d[2] + 1);
      nodes += (n + kChunk - 1) / kChunk * kChunk;
      cells += std::int64_t(d[0]) * d[1] * d[2];
      one = one && d[0] == 1 && d[1] == 1 && d[2] == 1;
    }
    bytes += nodes * (2 + 9 * 4 + 9 * 4 + 8);  // masks, smoother block, three fp32 vectors, node list
    if (l == 0) {
      bytes += cells + nodes * (8 * 3 * 8 + 8);  // solid flags; eight fp64 vectors, von Mises
    } else {
      const std::int64_t slots = std::min(cells, solid);
      bytes += cells * 4 + slots * (576 * 4 + 9);
    }
    if (one) break;
    for (auto& d : dims)
      for (int& n : d) n = (n + 1) / 2;
  }
  // Per part: the coarsest level's dense fp32 inverse, CG scalars.
  return bytes + std::int64_t(problem.parts.size()) * (std::int64_t(kDense) * kDense * 4 + 576 * 8 + 256);
}

}  // namespace flare::am::lattice
