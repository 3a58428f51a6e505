// The lattice solver on the GPU: solver_impl.h over CudaExec. The batch must fit in device
// memory; the check comes before any allocation so a too-large part fails with a clear message.
#include <algorithm>

#include "am/lattice/exec_cuda.cuh"
#include "am/lattice/solver_impl.h"

namespace flare::am::lattice {

std::vector<Solution> solve_cuda(const Problem& problem, const GroupCallback& on_group) {
  FLARE_INPUT_CHECK(cuda::cuda_available(), "--device cuda: no CUDA device is available; use --device cpu");
  const std::int64_t need = memory_needed(problem);
  std::size_t free_bytes = 0, total_bytes = 0;
  FLARE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (need > std::int64_t(free_bytes)) {
    const Part* big = &problem.parts.front();
    for (const Part& p : problem.parts)
      if (p.nodes() > big->nodes()) big = &p;
    FLARE_INPUT_CHECK(false, big->name, ": too large for the GPU: ", problem.parts.size() > 1 ? "the batch" : "the part",
                      " (", big->nodes(), " lattice nodes", problem.parts.size() > 1 ? " in its largest part" : "",
                      ") needs ", double(need) / (1 << 30), " GiB of device memory, ",
                      double(free_bytes) / (1 << 30), " GiB are free; use a coarser voxel, --device cpu, or a "
                      "smaller batch");
  }
  CudaExec ex;
  Solver<CudaExec> solver(problem, ex);
  std::vector<Solution> out = solver.run(on_group);
  ex.synchronize();
  return out;
}

}  // namespace flare::am::lattice
