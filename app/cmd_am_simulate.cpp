// flare-surrogate am simulate: the LPBF inherent-strain process simulation on one part. Input is a
// hexahedral (or voxel) mesh, or a closed surface (.stl, surface .vtp/.vtk) voxelised at --voxel;
// output is the mesh with displacement, von_mises and layer point arrays for ParaView or
// `dataset build`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "am/coarse_solve.h"
#include "am/material.h"
#include "am/simulate.h"
#include "am/voxel_grid.h"
#include "am/voxelize.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "mesh/io.h"

namespace {

namespace fs = std::filesystem;

int run_am_simulate(const flare::app::Args& args) {
  namespace po = flare::app::po;
  std::string materials;
  for (const std::string& m : flare::am::material_names()) materials += (materials.empty() ? "" : "|") + m;
  po::options_description opts("options");
  opts.add_options()("input", po::value<std::string>(), "part: hex/voxel mesh (.vtu, .vtk) or closed surface (.stl, .vtp)")(
      "output,o", po::value<std::string>(), "solved mesh to write (.vtu)")(
      "material", po::value<std::string>()->default_value("ti64"), materials.c_str())(
      "layers", po::value<int>(), "K layer groups of equal height per part, activated bottom to top (1 = single-step)")(
      "layer-height", po::value<double>(), "layer groups of this height in mm from the plate, the same for every part (one voxel layer at the finest); the default when --layers is not given")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu | cuda (voxel meshes; lattice-host runs the GPU algorithm on the CPU)")(
      "release", po::bool_switch(), "release the part from the build plate after the build (springback)")(
      "supports", po::value<std::string>()->default_value("auto"), "auto: rigid supports under faces flatter than 45 degrees, removed with the plate; none")(
      "voxel", po::value<double>(), "voxel size for surface input, in the surface's units")(
      "rtol", po::value<double>()->default_value(1e-8), "CG relative residual")(
      "coarse-field", po::bool_switch(), "also solve the part at twice its voxel with the same options and store that displacement as displacement_coarse (the input of models that correct a coarse solve)")(
      "threads", po::value<int>()->default_value(0), "solver threads (0 = OMP_NUM_THREADS or all cores)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!flare::app::parse_args(
          "am simulate", args, opts, pos, vm,
          "am simulate PART -o SOLVED.vtu [--material " + materials + "] [--layer-height MM | --layers K] [--release] [--device cpu|cuda]",
          "  flare-surrogate am simulate bracket.vtu -o bracket_solved.vtu\n"
          "  flare-surrogate am simulate bracket.vtu -o fast.vtu --layers 1 --material 316l\n"
          "  flare-surrogate am simulate part.stl --voxel 0.5 -o part_solved.vtu --release"))
    return 0;
  FLARE_INPUT_CHECK(vm.count("input"), "am simulate: give the part mesh (see --help)");
  FLARE_INPUT_CHECK(vm.count("output"), "am simulate: give the output file with -o SOLVED.vtu");
  const fs::path input = vm["input"].as<std::string>(), output = vm["output"].as<std::string>();
  FLARE_INPUT_CHECK(output.extension() == ".vtu", "am simulate: the output must be a .vtu file (got ",
                    output, ")");
  flare::check_writable(output);

  flare::am::SimulationOptions o;
  o.material = flare::am::material_by_name(vm["material"].as<std::string>());
  FLARE_INPUT_CHECK(!(vm.count("layers") && vm.count("layer-height")),
                    "am simulate: give --layers K or --layer-height MM, not both");
  if (vm.count("layers")) {
    o.layer_groups = vm["layers"].as<int>();
  } else {
    o.layer_height = vm.count("layer-height") ? vm["layer-height"].as<double>() : flare::am::kDefaultLayerHeight;
    FLARE_INPUT_CHECK(o.layer_height > 0 && std::isfinite(o.layer_height),
                      "am simulate: --layer-height must be a positive length in mm (got ", o.layer_height, ")");
  }
  o.device = vm["device"].as<std::string>();
  const std::string supports = vm["supports"].as<std::string>();
  FLARE_INPUT_CHECK(supports == "auto" || supports == "none", "am simulate: --supports must be auto or none (got '",
                    supports, "')");
  o.supports = supports == "auto";
  FLARE_INPUT_CHECK(o.device == "cpu" || o.device == "cuda" || o.device == "lattice-host",
                    "am simulate: --device must be cpu or cuda (got '", o.device, "')");
  o.release = vm["release"].as<bool>();
  o.rtol = vm["rtol"].as<double>();
  o.threads = vm["threads"].as<int>();
  FLARE_INPUT_CHECK(o.threads >= 0, "am simulate: --threads must be >= 0");
  FLARE_INPUT_CHECK(o.layer_groups >= 1, "am simulate: --layers must be at least 1 (got ", o.layer_groups, ")");
  FLARE_INPUT_CHECK(o.rtol > 0 && o.rtol < 1, "am simulate: --rtol must be in (0, 1)");

  flare::mesh::Mesh part = flare::mesh::read_mesh(input);
  if (part.dimension() == 2) {
    FLARE_INPUT_CHECK(vm.count("voxel") && vm["voxel"].as<double>() > 0, input.string(),
                      ": a surface needs --voxel SIZE to be voxelised (e.g. a fiftieth of the part's "
                      "largest dimension, in the surface's units)");
    flare::am::VoxelizeOptions vo;
    vo.voxel = vm["voxel"].as<double>();
    flare::am::SurfaceDefects defects;
    const flare::am::VoxelGrid grid = flare::am::voxelize(part, vo, input.string(), &defects);
    if (defects.any()) std::cerr << "warning: " << input.string() << ": " << defects.describe() << "\n";
    flare::am::IslandReport islands;
    part = flare::am::voxel_mesh(grid, &islands);
    if (islands.dropped_islands > 0)
      std::cerr << "am simulate: dropped " << islands.dropped_islands << " floating islands ("
                << islands.dropped_voxels << " voxels) not connected to the plate\n";
  } else {
    FLARE_INPUT_CHECK(part.dimension() == 3, input.string(),
                      ": expected a hexahedral volume mesh or a closed surface, got a mesh of "
                      "dimension ", part.dimension());
  }

  std::optional<flare::Progress> progress;  // the group count is known once the build is planned
  const flare::am::SimulationReport r =
      flare::am::simulate(part, o, [&](int g, int groups) {
        if (g == 0) progress.emplace(groups, "simulate", "groups");
        progress->advance();
      });
  if (progress) progress->finish();
  if (vm["coarse-field"].as<bool>()) {
    const flare::am::CoarseSolve c =
        flare::am::coarse_solve(part, o, flare::am::kCoarseFactor, input.string());
    flare::am::put_coarse_field(part, c);
    std::printf("am simulate: coarse solve at voxel %.4g (%d lattices, %lld nodes, %.2f s) -> %s\n",
                c.voxel, c.lattices, static_cast<long long>(c.nodes), c.seconds, flare::am::kCoarseField);
  }
  const auto u = part.point_data.get("displacement", input.string()).to_doubles();
  double max_u = 0;
  for (std::size_t i = 0; i + 2 < u.size(); i += 3)
    max_u = std::max(max_u, std::sqrt(u[i] * u[i] + u[i + 1] * u[i + 1] + u[i + 2] * u[i + 2]));
  flare::mesh::write_vtu(part, output);
  std::printf("am simulate: %lld nodes, %lld elements, %d layer groups%s, %ld CG iterations, %.2f s, max |u| %.4g -> %s\n",
              (long long)r.nodes, (long long)r.elements, r.solves - (o.release ? 1 : 0), o.release ? " + release" : "",
              r.cg_iterations, r.seconds, max_u, output.string().c_str());
  return 0;
}

}  // namespace

FLARE_COMMAND("am simulate", "LPBF distortion of one part (layer-by-layer inherent strain)", run_am_simulate);
