// flare-surrogate am part: one procedural LPBF part (a hexahedral voxel mesh on the build plate),
// its family parameters recorded in the file, ready for `am simulate` or ParaView.
#include <iostream>

#include "am/geometry.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"

namespace {

int run(const flare::app::Args& args) {
  namespace po = flare::app::po;
  std::string family, out, nodes = "5000..50000";
  std::uint64_t seed = 0;
  double voxel = 0;
  po::options_description opts("options");
  opts.add_options()
      ("family", po::value(&family)->required(), "part family, or 'list' to print them")
      ("seed", po::value(&seed)->default_value(0), "random seed of the parameters")
      ("output,o", po::value(&out), "output .vtu")
      ("voxel", po::value(&voxel)->default_value(0), "voxel size in mm (default: chosen so the node count is in --nodes)")
      ("nodes", po::value(&nodes)->default_value(nodes), "node range MIN..MAX of the mesh (ignored with --voxel)");
  po::variables_map vm;
  if (!flare::app::parse_args("am part", args, opts, {}, vm,
                              "am part --family NAME --seed S -o part.vtu [--voxel H] [--nodes MIN..MAX]",
                              "  flare-surrogate am part --family list\n"
                              "  flare-surrogate am part --family l_bracket --seed 3 -o bracket.vtu\n"
                              "  flare-surrogate am part --family gyroid --seed 1 --nodes 20000..40000 -o gyroid.vtu\n"
                              "  flare-surrogate am part --family pattern --seed 3 -o pattern.vtu   (blades, pins, fins, coils, teeth)\n"
                              "  flare-surrogate am part --family plate --seed 3 -o plate.vtu   (a plate, hinge, vane or lever on edge)\n"
                              "  flare-surrogate am part --family wall --voxel 0.5 -o wall.vtu\n"))
    return 0;
  if (family == "list") {
    for (const auto& [name, text] : flare::am::part_family_descriptions())
      std::cout << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << text << "\n";
    return 0;
  }
  FLARE_INPUT_CHECK(!out.empty(), "am part: give the output file with -o part.vtu");
  FLARE_INPUT_CHECK(voxel >= 0, "am part: --voxel must be positive (got ", voxel, ")");
  flare::check_writable(out);
  flare::am::PartOptions popts;
  flare::am::parse_node_range(nodes, "--nodes", popts);
  popts.voxel = voxel;
  flare::am::PartSpec spec = flare::am::make_part(family, seed, popts);
  flare::mesh::Mesh m = flare::am::voxel_mesh(spec.grid);
  m.field_strings["family"] = family;
  m.field_strings["part_seed"] = std::to_string(seed);
  m.field_strings["parameters"] = spec.params.dump();
  flare::mesh::write_vtu(m, out);
  std::cout << family << " seed " << seed << ": " << m.num_points() << " nodes, " << m.num_cells()
            << " hexahedra, voxel " << spec.grid.voxel << " mm -> " << out << "\n";
  return 0;
}

}  // namespace

FLARE_COMMAND("am part", "make a procedural LPBF part (hex voxel mesh)", run);
