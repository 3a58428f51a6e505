// Built without CUDA: the GPU lattice solver is not there, and asking for it is a user error.
#include "am/lattice/problem.h"
#include "common/error.h"

namespace flare::am::lattice {

std::vector<Solution> solve_cuda(const Problem&, const GroupCallback&) {
  throw InputError("--device cuda: this flare-surrogate was built without CUDA; use --device cpu, or "
                   "rebuild on a machine with nvcc (CUDA 13)");
}

}  // namespace flare::am::lattice
