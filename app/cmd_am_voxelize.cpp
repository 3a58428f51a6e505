// flare-surrogate am voxelize: a closed surface (STL, .vtp, .vtk) to a hexahedral voxel mesh
// standing on the build plate, for `am simulate`. A surface with defects (non-manifold edges,
// gaps, flipped or duplicated triangles, overlapping shells) is voxelised anyway, with one
// `warning:` line naming them (am/surface_repair.h); an open sheet with no inside is refused.
#include <chrono>
#include <iostream>

#include "am/voxelize.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"

namespace {

int run(const flare::app::Args& args) {
  namespace po = flare::app::po;
  std::string in, out;
  double voxel = 0;
  std::int64_t max_nodes = 20'000'000;
  po::options_description opts("options");
  opts.add_options()
      ("input", po::value(&in)->required(), "closed surface: .stl, .vtp or .vtk")
      ("voxel", po::value(&voxel)->required(), "voxel size, in the surface's units")
      ("output,o", po::value(&out)->required(), "output .vtu")
      ("max-nodes", po::value(&max_nodes)->default_value(max_nodes), "refuse voxel sizes giving more nodes");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!flare::app::parse_args("am voxelize", args, opts, pos, vm,
                              "am voxelize SURFACE --voxel H -o part.vtu",
                              "  flare-surrogate am voxelize part.stl --voxel 0.5 -o part.vtu\n"))
    return 0;
  flare::check_writable(out);
  flare::mesh::Mesh surface = flare::mesh::read_mesh(in);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  flare::am::SurfaceDefects defects;
  flare::am::VoxelGrid grid = flare::am::voxelize(surface, {voxel, max_nodes}, in, &defects);
  const auto t1 = Clock::now();
  // One line, before the output is written: what the surface got wrong and how it was taken.
  if (defects.any()) std::cerr << "warning: " << in << ": " << defects.describe() << "\n";
  flare::am::IslandReport islands;
  flare::mesh::Mesh m = flare::am::voxel_mesh(grid, &islands);
  const double voxelize_s = std::chrono::duration<double>(t1 - t0).count();
  const double mesh_s = std::chrono::duration<double>(Clock::now() - t1).count();
  m.field_strings["source"] = in;
  flare::mesh::write_vtu(m, out);
  std::cout << in << ": " << grid.nx << " x " << grid.ny << " x " << grid.nz << " grid, "
            << m.num_cells() << " hexahedra, " << m.num_points() << " nodes, voxel " << voxel
            << " (voxelize " << voxelize_s << " s, hex mesh " << mesh_s << " s) -> " << out << "\n";
  if (islands.dropped_islands > 0)
    std::cout << "dropped " << islands.dropped_islands << " floating island(s), " << islands.dropped_voxels
              << " voxels not connected to the build plate\n";
  return 0;
}

}  // namespace

FLARE_COMMAND("am voxelize", "voxelise a closed surface (STL) into a hex part mesh", run);
