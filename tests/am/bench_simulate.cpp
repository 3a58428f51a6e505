// Simulation speed versus part size (not a ctest: run by hand, numbers go to the report/README).
//
//   build/tests/am/bench_am_simulate [layers=10] [sizes...]
//
// Each size n is a solid block of 2n x 2n x n voxels (0.5 mm) plus, on top of it, a 2n x n/2 x n
// overhanging wall that leaves half of the block's width free: compact enough to be the hard case
// for CG, with a re-entrant corner like real parts.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "am/simulate.h"
#include "tests/am/voxel_part.h"

int main(int argc, char** argv) {
  const int layers = argc > 1 ? std::atoi(argv[1]) : 10;
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {8, 13, 18, 30, 50};
  std::printf("| nodes | elements | groups | CG iterations | seconds |\n|---|---|---|---|---|\n");
  for (int n : sizes) {
    flare::mesh::Mesh m = flare::am::test::voxel_part(
        2 * n, 2 * n, 2 * n, 0.5e-3, [n](int, int j, int k) { return k < n || j < n / 2; });
    flare::am::SimulationOptions o;
    o.layer_groups = layers;
    const flare::am::SimulationReport r = flare::am::simulate(m, o);
    std::printf("| %lld | %lld | %d | %ld | %.2f |\n", (long long)r.nodes, (long long)r.elements,
                r.groups, r.cg_iterations, r.seconds);
    std::fflush(stdout);
  }
}
