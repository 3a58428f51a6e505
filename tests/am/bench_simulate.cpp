// Simulation speed versus part size (not a ctest: run by hand, numbers go to the report/README).
//
//   build/tests/am/bench_am_simulate [--jacobi] [layers=10] [sizes...]
//
// --jacobi turns the multigrid preconditioner off (block-Jacobi CG), for comparison.
//
// Measured 2026-11-23 on the shared 2-core dev machine (load average 2-7 from other builds, so
// wall time is inflated; CPU seconds are the steadier figure), Release, rtol 1e-8, ti64, K = 10:
//   OMP_NUM_THREADS=1 build/tests/am/bench_am_simulate 10 9 15 21 33   (multigrid)
//   OMP_NUM_THREADS=1 build/tests/am/bench_am_simulate 10 57
//   OMP_NUM_THREADS=1 build/tests/am/bench_am_simulate --jacobi 10 9 15 21
//   | nodes  | MG CG its | MG wall s | MG CPU s | Jacobi CG its | Jacobi CPU s |
//   | 4465   | 120       | 0.87      | 0.30     | 1197          | 0.35         |
//   | 19096  | 118       | 1.75      | 1.76     | 1999          | 3.49         |
//   | 50611  | 127       | 14.04     | 5.61     | 2805          | 13.02        |
//   | 190213 | 125       | 24.75     | 23.79    |               |              |
//   | 957145 | 126       | 227.93    | 157.53   |               |              |  (3.2 GB RSS)
// With OMP_NUM_THREADS=2 on that busy machine the same runs were 2-5x SLOWER (19096 nodes: 8.87 s
// wall, 9.35 s CPU; 190213: 55.6 s): spinning threads that lose their core stall every barrier.
// OMP_WAIT_POLICY=passive removes the loss (19096: 1.80 s) but gains nothing there either.
//
// Each size n is a solid block of 2n x 2n x n voxels (0.5 mm) plus, on top of it, a 2n x n/2 x n
// overhanging wall that leaves half of the block's width free: compact enough to be the hard case
// for CG, with a re-entrant corner like real parts.
#include <chrono>
#include <ctime>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "am/simulate.h"
#include "tests/am/voxel_part.h"

int main(int argc, char** argv) {
  int arg = 1;
  const bool jacobi = argc > arg && std::string(argv[arg]) == "--jacobi";
  if (jacobi) ++arg;
  const int layers = argc > arg ? std::atoi(argv[arg++]) : 10;
  std::vector<int> sizes;
  for (int i = arg; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {8, 13, 18, 30, 50};
  std::printf("| nodes | elements | groups | CG iterations | seconds | CPU seconds |\n|---|---|---|---|---|---|\n");
  for (int n : sizes) {
    flare::mesh::Mesh m = flare::am::test::voxel_part(
        2 * n, 2 * n, 2 * n, 0.5e-3, [n](int, int j, int k) { return k < n || j < n / 2; });
    flare::am::SimulationOptions o;
    o.layer_groups = layers;
    o.multigrid = !jacobi;
    const std::clock_t c0 = std::clock();
    const flare::am::SimulationReport r = flare::am::simulate(m, o);
    const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    std::printf("| %lld | %lld | %d | %ld | %.2f | %.2f |\n", (long long)r.nodes, (long long)r.elements,
                r.groups, r.cg_iterations, r.seconds, cpu);
    std::fflush(stdout);
  }
}
