// Speed of the inside tests of `am voxelize` (not a ctest: run by hand, numbers go to
// docs/architecture.md), on the same surface and grids:
//  - closed surface: signed ray crossings (used) against the generalized winding number evaluated
//    at every voxel centre (the definition);
//  - the surface with holes punched in it (one triangle removed; every 50th, 10th, 4th removed): the
//    hole-closing cones (used) against the winding number at every voxel centre.
//
//   build/tests/am/bench_am_voxelize SURFACE.stl [voxels per longest side...]
//
// Times are CPU seconds of the process (steadier than wall time on a shared machine; equal to it
// with OMP_NUM_THREADS=1 on an idle core). "differ" counts voxels on which the two methods of a
// row disagree.
#include <Eigen/Geometry>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <omp.h>
#include <vector>

#include "am/voxelize.h"
#include "mesh/io.h"

namespace {

struct Timed {
  flare::am::VoxelGrid grid;
  flare::am::SurfaceDefects defects;
  double seconds;
};

Timed run(const flare::mesh::Mesh& m, flare::am::VoxelizeOptions o, bool definition) {
  o.force_winding_number = definition;
  Timed t;
  const std::clock_t t0 = std::clock();
  t.grid = flare::am::voxelize(m, o, "bench", &t.defects);
  t.seconds = double(std::clock() - t0) / CLOCKS_PER_SEC;
  return t;
}

std::int64_t differ(const flare::am::VoxelGrid& a, const flare::am::VoxelGrid& b) {
  std::int64_t n = 0;
  for (std::int64_t v = 0; v < a.size(); ++v) n += a.solid[v] != b.solid[v];
  return n;
}

// The mesh without every `stride`-th cell (stride 0: without cell 0 only).
flare::mesh::Mesh punched(const flare::mesh::Mesh& m, std::int64_t stride) {
  flare::mesh::Mesh out;
  out.points = m.points;
  for (std::int64_t c = 0; c < m.num_cells(); ++c) {
    if (stride == 0 ? c == 0 : c % stride == 0) continue;
    out.add_cell(m.cell_type(c), m.cell(c), m.cell_size(c));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SURFACE.stl [voxels per longest side...]\n", argv[0]);
    return 2;
  }
  const flare::mesh::Mesh m = flare::mesh::read_mesh(argv[1]);
  std::vector<double> sides;
  for (int a = 2; a < argc; ++a) sides.push_back(std::atof(argv[a]));
  if (sides.empty()) sides = {50, 100, 200};
  Eigen::AlignedBox3d box;
  for (Eigen::Index p = 0; p < m.points.rows(); ++p) box.extend(m.points.row(p).transpose().eval());
  const double longest = box.sizes().maxCoeff();
  std::printf("%s: %lld cells, %d OpenMP threads\n", argv[1], static_cast<long long>(m.num_cells()),
              omp_get_max_threads());
  std::printf("| surface | voxels | used: method | s | winding number everywhere s | ratio | differ |\n");
  const struct {
    const char* name;
    flare::mesh::Mesh mesh;
  } cases[] = {{"closed", m},
               {"1 hole", punched(m, 0)},
               {"2% holes", punched(m, 50)},
               {"10% holes", punched(m, 10)},
               {"25% holes", punched(m, 4)}};
  for (double n : sides)
    for (const auto& c : cases) {
      const flare::am::VoxelizeOptions o{longest / n, 2'000'000'000};
      const Timed used = run(c.mesh, o, false), definition = run(c.mesh, o, true);
      const char* method = !used.defects.by_winding_number          ? "crossings"
                           : used.defects.closing_triangles > 0 ? "cones"
                                                                : "everywhere";
      std::printf("| %s | %lld | %s | %.3f | %.3f | %.0f | %lld |\n", c.name,
                  static_cast<long long>(used.grid.size()), method,
                  used.seconds, definition.seconds, definition.seconds / used.seconds,
                  static_cast<long long>(differ(used.grid, definition.grid)));
    }
  return 0;
}
