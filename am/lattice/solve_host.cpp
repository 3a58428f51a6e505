// The lattice solver on the CPU: the test oracle of its GPU build (same algorithm, same order of
// operations within each loop), and a matrix-free CPU path for voxel meshes.
#include "am/lattice/solver_impl.h"

namespace flare::am::lattice {

std::vector<Solution> solve_host(const Problem& problem, const GroupCallback& on_group) {
  HostExec ex;
  Solver<HostExec> solver(problem, ex);
  return solver.run(on_group);
}

}  // namespace flare::am::lattice
