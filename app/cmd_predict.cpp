// `flare-surrogate predict`: run a trained checkpoint on meshes and write the predicted fields.
//
// Outputs: one input mesh and -o FILE (.vtu/.vtk/.vtp) → that file. Otherwise (several inputs, a
// .pvd series, or -o naming a directory) -o is a directory: each mesh X becomes X_pred.vtu in it
// (steps of a series S.pvd become S_<k>_pred.vtu) and predictions.pvd lists them all, with the
// series' times or the input order as time.
//
// Surfaces (.stl, surface .vtp/.vtk/.vtu) given to a model trained on volume meshes, or given
// with --voxel H, are voxelised first (am/voxelize.h) and the voxel mesh carries the prediction.
// The voxel size is --voxel, or the one whose mesh has about the median node count of the model's
// training range, kept inside its voxel-size range (am/voxel_fit.h).
//
// One Predictor serves every mesh: the checkpoint is read, the backend (CUDA context) made and
// the parameters uploaded once.
//
// Without -m the bundled model is used (surrogate::find_default_model: $FLARE_MODEL, then next to
// the executable, the installed share/ folder, the source tree). A mesh outside the model's
// training domain gets a one-line warning on stderr and is still predicted. With an ensemble
// checkpoint each mesh also gets <target>_uncertainty and a printed score (the estimated relative
// error), and a second warning line when the score exceeds the checkpoint's threshold: the range
// checks miss parts that are in range but unlike anything trained on (docs/uncertainty.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "am/coarse_solve.h"
#include "am/voxel_fit.h"
#include "am/voxelize.h"
#include "app/command.h"
#include "app/gpu_memory.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"
#include "surrogate/comm.h"
#include "surrogate/predictor.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;
using Clock = std::chrono::steady_clock;

bool is_mesh_file(const fs::path& p) {
  const auto e = p.extension();
  return e == ".vtu" || e == ".vtk" || e == ".vtp";
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Wall seconds of the stages the command runs itself; the Predictor times the others.
struct CommandTimings {
  double load = 0, read = 0, voxelize = 0, coarse = 0, write = 0;
  // Waiting, after the coarse solve, for the boundary features computed beside it; counted as
  // features.
  double boundary_wait = 0;
  bool voxelized = false, coarse_solved = false;  // their rows are printed only when they apply
  std::int64_t meshes = 0, nodes = 0;
};

// `--timings`: every stage and the wall time since the command started, measured separately (a
// stage nobody timed shows as a gap between the two).
void print_timings(const CommandTimings& c, const surrogate::PredictTimings& p, double wall,
                   bool gpu) {
  struct Row {
    const char* name;
    double seconds;
    bool shown;
  };
  const Row rows[] = {{"load model", c.load, true},   {"read", c.read, true},
                      {"voxelize", c.voxelize, c.voxelized}, {"features", p.features + c.boundary_wait, true},
                      // The rest of the GPU setup that load model started (beside read, features).
                      {"gpu setup", p.device_wait, gpu},
                      {"upload", p.upload, true},     {"model", p.model, true},
                      {"download", p.download, true}, {"coarse solve", c.coarse, c.coarse_solved},
                      {"write", c.write, true}};
  std::printf("timings (%lld mesh%s, %lld nodes):\n", static_cast<long long>(c.meshes),
              c.meshes == 1 ? "" : "es", static_cast<long long>(c.nodes));
  double sum = 0;
  for (const Row& r : rows) {
    if (!r.shown) continue;
    std::printf("  %-12s %9.3f s\n", r.name, r.seconds);
    sum += r.seconds;
  }
  std::printf("  %-12s %9.3f s (stages sum %.3f s)\n", "total", wall, sum);
  if (gpu)
    std::printf("  gpu memory peak %.0f MiB (the model's device allocations)\n",
                double(app::gpu_peak_bytes()) / double(1 << 20));
}

// What to do with a surface input: voxelise it with --voxel, or when the model saw volumes.
bool should_voxelize(const mesh::Mesh& m, double voxel,
                     const std::optional<surrogate::TrainingDomain>& domain) {
  return m.dimension() == 2 && (voxel > 0 || (domain && domain->max_dim == 3));
}

// The voxel mesh of surface `m`: at `voxel` when given, else at the size whose mesh has about the
// median node count of the training parts (their counts are drawn log-uniformly, so the median is
// the geometric mean of the range) inside the training voxel-size range. Says what it chose.
mesh::Mesh voxelize_input(const mesh::Mesh& m, double voxel,
                          const std::optional<surrogate::TrainingDomain>& domain,
                          const std::string& source) {
  am::VoxelFit fit;
  std::string why;
  if (voxel > 0) {
    am::VoxelizeOptions opts;
    opts.voxel = voxel;
    fit.grid = am::voxelize(m, opts, source);
    fit.voxel = voxel;
    why = "--voxel";
  } else {
    FLARE_INPUT_CHECK(domain && domain->min_nodes > 0 && domain->min_edge > 0, source,
                      ": a surface mesh, and the model records no training node counts or voxel "
                      "sizes to choose a voxel size from; give one with --voxel H");
    const auto target = std::int64_t(std::llround(
        std::sqrt(double(domain->min_nodes) * double(domain->max_nodes))));
    fit = am::voxelize_for_nodes(m, target, domain->min_edge, domain->max_edge, source);
    std::ostringstream w;
    w.precision(4);
    w << "target " << target << " nodes, the median of the training range " << domain->min_nodes
      << ".." << domain->max_nodes << ", voxel kept in " << domain->min_edge << ".."
      << domain->max_edge;
    why = w.str();
  }
  am::IslandReport islands;
  mesh::Mesh v = am::voxel_mesh(fit.grid, &islands);
  v.field_strings["source"] = source;
  std::cout << source << ": voxelized at voxel " << fit.voxel << " (" << why << "): "
            << v.num_points() << " nodes, " << v.num_cells() << " hexahedra";
  if (islands.dropped_islands > 0)
    std::cout << "; dropped " << islands.dropped_islands << " floating island(s) of "
              << islands.dropped_voxels << " voxels";
  std::cout << "\n";
  return v;
}

// Under mpirun every rank runs this same function on the same inputs (docs/distributed.md): the
// points of each mesh are sharded over the ranks, every rank reads the mesh and computes its
// features, rank 0 alone prints and writes. Each phase that can fail on bad input ends in one
// agreement (surrogate/comm.h, agree), so the failure is printed once and no rank is left waiting.
int predict_ranks(const app::Args& args) {
  const auto wall0 = Clock::now();
  std::vector<std::string> inputs;
  std::string model, output, device = "cpu", precision = "fp32";
  double voxel = 0, coarse_sigma = 0.5;
  bool timings = false, coarse_solve = false;
  po::options_description opts("options");
  opts.add_options()
      ("input", po::value(&inputs)->multitoken(), "meshes (.vtu, .vtk, .vtp, .stl) or .pvd series")
      ("model,m", po::value(&model), "checkpoint from `train`, or the file name of a bundled model (default: the installed models/lpbf-default.h5; lpbf-v2-geometry.h5 reads the geometry alone, for meshes that are no voxel lattice)")
      ("output,o", po::value(&output), "output mesh (one input) or directory (several inputs or a .pvd)")
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
      ("precision", po::value(&precision)->default_value(precision), "fp32 | bf16 (bf16 activations; needs --device cuda)")
      ("voxel", po::value(&voxel), "voxelize surface inputs (.stl, surface .vtp/.vtk) at this voxel size "
                                   "(default for a model trained on volumes: chosen from its training range)")
      ("timings", po::bool_switch(&timings), "print the seconds of each stage and the wall total")
      ("coarse-solve", po::bool_switch(&coarse_solve),
       "also simulate the part at twice its voxel (`am simulate` defaults) and combine it with the "
       "model's displacement, each weighted by the inverse square of its expected error (the "
       "ensemble's score, --coarse-sigma): <target>_pred is the combination, <target>_model and "
       "<target>_coarse the two parts; needs an ensemble model")
      ("coarse-sigma", po::value(&coarse_sigma)->default_value(coarse_sigma),
       "expected relative L2 error of the coarse solve (measured: 0.49-0.52 on held-out and "
       "training-family parts, examples/heldout/README.md)");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  try {
    if (!app::parse_args("predict", args, opts, pos, vm, "predict MESH... [-m model.h5] -o OUT",
                         "  flare-surrogate predict part.vtu -m model.h5 -o part_pred.vtu\n"
                         "  flare-surrogate predict parts/*.vtu -m model.h5 -o predictions/   # + predictions.pvd\n"
                         "  flare-surrogate predict build.pvd -m model.h5 -o predictions/\n"
                         "  flare-surrogate predict part.stl -o part_pred.vtu   # voxelized in the model's range\n"
                         "  flare-surrogate predict part.stl --voxel 0.5 -o part_pred.vtu\n"
                         "  flare-surrogate predict part.vtu -m model.h5 --device cuda -o part_pred.vtu\n"
                         "  flare-surrogate predict part.vtu -m model.h5 --device cuda --precision bf16\n"
                         "  flare-surrogate predict part.vtu --timings      # seconds per stage\n"
                         "  flare-surrogate predict part.vtu -m ensemble.h5  # + <target>_uncertainty, a score\n"
                         "  flare-surrogate predict part.vtu                # bundled models/lpbf-default.h5\n"
                         "  FLARE_MODEL=my.h5 flare-surrogate predict part.vtu\n"
                         "  mpirun -np 4 flare-surrogate predict big.vtu -o big_pred.vtu   # points over 4 CPU ranks\n"))
      return 0;
  } catch (...) {
    // Under an MPI launcher every rank parses the same arguments and fails alike: rank 0 reports.
    if (surrogate::launcher_rank() > 0)
      throw surrogate::PeerFailure(surrogate::exit_code_of(std::current_exception()));
    throw;
  }
  const std::unique_ptr<surrogate::Comm> comm = surrogate::make_comm();
  const bool lead = comm->rank() == 0, sharded = comm->size() > 1;
  // Runs `step` on every rank (or on rank 0 alone) and agrees on its outcome.
  auto agreed = [&](bool lead_only, auto&& step) {
    surrogate::agree_on(*comm, [&] {
      if (lead || !lead_only) step();
    });
  };

  CommandTimings ct;
  auto t0 = Clock::now();
  bool single = false, to_file = false;
  std::optional<surrogate::Predictor> predictor;
  std::vector<std::string> model_inputs;
  bool reads_coarse = false;  // the model corrects the part's coarse solve (am/coarse_solve.h)
  agreed(false, [&] {
    FLARE_INPUT_CHECK(!inputs.empty(), "predict: no input mesh given (see --help)");
    FLARE_INPUT_CHECK(!vm.count("voxel") || (voxel > 0 && std::isfinite(voxel)),
                      "predict: --voxel must be a positive size (got ", voxel, ")");
    surrogate::check_precision(device, precision);
    FLARE_INPUT_CHECK(!sharded || device == "cpu", "predict: ", comm->size(),
                      " MPI ranks shard the points of each mesh over CPU processes (--device "
                      "cpu); run predict --device cuda as one process");
    if (model.empty()) {
      const fs::path d = surrogate::find_default_model();
      FLARE_INPUT_CHECK(!d.empty(), "predict: no model given and no bundled model found (looked for ",
                        surrogate::kDefaultModelName, " in $FLARE_MODEL, <bin>/../models/, "
                        "<bin>/../share/flare-surrogate/models/ and the source tree's models/); pass -m model.h5, set FLARE_MODEL, or put the file in one of those folders");
      model = d.string();
      if (lead) std::cerr << "using bundled model " << model << "\n";
    } else if (const fs::path r = surrogate::resolve_model_argument(model); r != fs::path(model)) {
      model = r.string();
      if (lead) std::cerr << "using bundled model " << model << "\n";
    }
    for (const auto& in : inputs) FLARE_INPUT_CHECK(fs::exists(in), in, ": no such file");
    single = inputs.size() == 1 && fs::path(inputs[0]).extension() != ".pvd";
    if (output.empty()) {
      FLARE_INPUT_CHECK(single, "predict: several inputs or a .pvd need -o DIRECTORY");
      const fs::path in(inputs[0]);
      output = (in.parent_path() / (in.stem().string() + "_pred.vtu")).string();
    }
    to_file = single && is_mesh_file(output) && !fs::is_directory(output);
    FLARE_INPUT_CHECK(to_file || !is_mesh_file(output), "predict: -o ", output,
                      " names a mesh file but there are several outputs; give a directory");
    if (to_file && lead) check_writable(output);
    predictor.emplace(model, device, precision);
    if (sharded) predictor->set_point_shards(comm.get());
    model_inputs = predictor->recipe().input_arrays();
    reads_coarse = std::find(model_inputs.begin(), model_inputs.end(), am::kCoarseField) != model_inputs.end();
    if (coarse_solve) {
      FLARE_INPUT_CHECK(!sharded, "predict: --coarse-solve runs as one process (no mpirun)");
      FLARE_INPUT_CHECK(coarse_sigma > 0 && std::isfinite(coarse_sigma),
                        "predict: --coarse-sigma must be a positive relative error (got ", coarse_sigma, ")");
      FLARE_INPUT_CHECK(!reads_coarse, model, ": this model reads the coarse solve as an input (",
                        am::kCoarseField, ") and corrects it; combining its answer with the same "
                        "coarse solve again would count that solve twice. Drop --coarse-solve");
      FLARE_INPUT_CHECK(predictor->ensemble(), model, ": --coarse-solve weighs the coarse solve "
                        "against an ensemble's uncertainty score, and this is a single model; use "
                        "an ensemble (`model ensemble`, or the bundled model)");
      const surrogate::Normalizer& nz = predictor->normalizer();
      FLARE_INPUT_CHECK(nz.target_arrays.size() == 1 && nz.target_components[0] == 3, model,
                        ": --coarse-solve combines a predicted displacement (one 3-component "
                        "target) with the simulated one; this model predicts ", nz.target_arrays.size(),
                        " arrays");
    }
  });
  ct.load = seconds_since(t0);

  // Surfaces become voxel meshes first (when that applies); the time goes to the voxelize row.
  // A model that reads the coarse solve gets it here, on every rank, unless the mesh carries it.
  // Meanwhile a thread computes the mesh's boundary features (the features stage's bulk, which
  // needs only the points and cells): on the GPU the coarse solve leaves the host idle. Returns
  // them for predict_one, or nullopt when they were not computed here.
  auto prepare = [&](mesh::Mesh& m, const std::string& source) {
    if (should_voxelize(m, voxel, predictor->training_domain())) {
      const auto tv = Clock::now();
      m = voxelize_input(m, voxel, predictor->training_domain(), source);
      ct.voxelize += seconds_since(tv);
      ct.voxelized = true;
    }
    std::future<std::optional<mesh::BoundaryDistance>> boundary;
    if (reads_coarse && !m.point_data.has(am::kCoarseField))
      // ensure_coarse_field writes only m.point_data, which the boundary does not read. If it
      // throws, the future's destructor waits for the thread before `m` can go away.
      boundary = std::async(std::launch::async,
                            [&] { return mesh::recipe_boundary(m, predictor->recipe(), source); });
    const auto tc = Clock::now();
    if (const auto c = am::ensure_coarse_field(m, model_inputs, am::default_process(device), source)) {
      ct.coarse += seconds_since(tc);
      ct.coarse_solved = true;
      if (lead)
        std::printf("%s: coarse solve at voxel %.4g (%d lattices, %lld nodes, %.2f s, spread %.3g) "
                    "as the model's input %s\n", source.c_str(), c->voxel, c->lattices,
                    static_cast<long long>(c->nodes), c->seconds, c->spread, am::kCoarseField);
    }
    if (!boundary.valid()) return std::optional<mesh::BoundaryDistance>();
    const auto tb = Clock::now();
    std::optional<mesh::BoundaryDistance> b = boundary.get();
    ct.boundary_wait += seconds_since(tb);
    return b;
  };
  // The domain warning follows a successful prediction, so a mesh the model refuses gets only the
  // error line.
  auto predict_one = [&](mesh::Mesh& m, const std::string& source,
                         const std::optional<mesh::BoundaryDistance>& boundary) {
    std::optional<double> score;
    try {
      score = predictor->predict(m, source, boundary ? &*boundary : nullptr);
    } catch (const surrogate::RankFailure& e) {
      // Past the agreement on the features its peers may be waiting for this rank: end the job.
      app::print_error((sharded ? "rank " + std::to_string(comm->rank()) + ": " : "") + std::string(e.what()));
      comm->abort(e.code());
    }
    const std::string why = predictor->outside_domain(m);
    if (!why.empty() && lead)
      std::cerr << "warning: " << source << " lies outside the training domain of " << model
                << " (" << why << "); predicted anyway, expect larger errors\n";
    if (coarse_solve && score) {
      const auto tc = Clock::now();
      const std::string target = predictor->normalizer().target_arrays[0];
      const am::CoarseBlend b = am::blend_coarse_solve(m, target, *score, coarse_sigma,
                                                       am::default_process(device), am::kCoarseFactor, source);
      ct.coarse += seconds_since(tc);
      ct.coarse_solved = true;
      std::printf("%s: coarse solve at voxel %.4g (%d lattices, %lld nodes, %.2f s, spread %.3g); %s_pred = %.3f x model "
                  "(score %.3g) + %.3f x coarse solve (expected error %.3g): estimated relative "
                  "error %.3g\n", source.c_str(), b.solve.voxel,
                  b.solve.lattices, static_cast<long long>(b.solve.nodes), b.solve.seconds, b.solve.spread, target.c_str(), b.weight,
                  *score, 1 - b.weight, coarse_sigma, b.estimated_error);
    }
    if (score && lead) {
      const surrogate::EnsembleInfo& ens = *predictor->ensemble();
      std::printf("%s: uncertainty score %.4g (estimated relative L2 error from %d ensemble "
                  "members%s)\n", source.c_str(), *score, ens.members,
                  ens.calibrated() ? "" : ", uncalibrated");
      const std::string unreliable = ens.unreliable_reason(*score);
      if (!unreliable.empty())
        std::cerr << "warning: " << source << ": " << unreliable
                  << "; the prediction is unreliable\n";
    }
    ++ct.meshes;
    ct.nodes += m.num_points();
  };
  // A mesh read (and voxelised) by every rank, the failure agreed on.
  // `boundary` receives what prepare computed.
  auto read = [&](const fs::path& p, const std::string& source,
                  std::optional<mesh::BoundaryDistance>& boundary) {
    mesh::Mesh m;
    agreed(false, [&] {
      const auto tr = Clock::now();
      m = mesh::read_mesh(p);
      ct.read += seconds_since(tr);
      boundary = prepare(m, source);
    });
    return m;
  };
  if (sharded && lead) std::cout << "point-sharded over " << comm->size() << " MPI ranks\n";

  if (to_file) {
    std::optional<mesh::BoundaryDistance> boundary;
    mesh::Mesh m = read(inputs[0], inputs[0], boundary);
    predict_one(m, inputs[0], boundary);
    agreed(true, [&] {
      const auto tw = Clock::now();
      mesh::write_mesh(m, output);
      ct.write += seconds_since(tw);
    });
    std::cout << "wrote " << output << "\n";
    if (timings && lead) print_timings(ct, predictor->timings(), seconds_since(wall0), device == "cuda");
    return 0;
  }

  // Predict everything before writing anything, so a bad input leaves no partial collection.
  std::vector<std::pair<std::string, mesh::Mesh>> results;
  std::vector<double> times;
  for (const auto& in : inputs) {
    const fs::path p(in);
    if (p.extension() == ".pvd") {
      mesh::MeshSeries s;
      std::vector<std::optional<mesh::BoundaryDistance>> boundaries;
      agreed(false, [&] {
        const auto tr = Clock::now();
        s = mesh::read_series(p);
        ct.read += seconds_since(tr);
        for (std::size_t k = 0; k < s.meshes.size(); ++k)
          boundaries.push_back(prepare(s.meshes[k], s.files[k]));
      });
      for (std::size_t k = 0; k < s.meshes.size(); ++k) {
        predict_one(s.meshes[k], s.files[k], boundaries[k]);
        results.emplace_back(p.stem().string() + "_" + std::to_string(k) + "_pred.vtu",
                             std::move(s.meshes[k]));
        times.push_back(s.times[k]);
      }
    } else {
      std::optional<mesh::BoundaryDistance> boundary;
      mesh::Mesh m = read(p, in, boundary);
      predict_one(m, in, boundary);
      results.emplace_back(p.stem().string() + "_pred.vtu", std::move(m));
      times.push_back(double(times.size()));
    }
  }
  const fs::path dir(output);
  std::vector<std::string> files;
  for (const auto& r : results) files.push_back(r.first);
  agreed(true, [&] {
    const auto tw = Clock::now();
    fs::create_directories(dir);
    for (const auto& [name, m] : results) mesh::write_vtu(m, dir / name);
    mesh::write_pvd(dir / "predictions.pvd", times, files);
    ct.write += seconds_since(tw);
  });
  std::cout << "wrote " << files.size() << " meshes and " << (dir / "predictions.pvd").string()
            << "\n";
  if (timings && lead) print_timings(ct, predictor->timings(), seconds_since(wall0), device == "cuda");
  return 0;
}

int predict_cmd(const app::Args& args) {
  try {
    return predict_ranks(args);
  } catch (const surrogate::PeerFailure& e) {
    return e.code();  // the rank that failed first printed why
  }
}

FLARE_COMMAND("predict", "predict fields on meshes with a trained checkpoint", predict_cmd);

}  // namespace
