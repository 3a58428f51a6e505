// flare-surrogate am dataset: generate N simulated LPBF parts (sample_XXXXX.vtu with point array
// "displacement", ready for `dataset build`), a manifest and a train/val/test split by part.
#include <iostream>
#include <sstream>
#include <thread>

#include "am/dataset_gen.h"
#include "app/command.h"
#include "common/error.h"
#include "common/progress.h"

namespace {

int run(const flare::app::Args& args) {
  namespace po = flare::app::po;
  flare::am::DatasetOptions d;
  std::string out, nodes = "5000..50000", families, splits;
  po::options_description opts("options");
  opts.add_options()
      ("count", po::value(&d.count)->required(), "number of parts (sample_00000.vtu ...)")
      ("out,o", po::value(&out)->required(), "output folder (created if missing)")
      ("seed", po::value(&d.seed)->default_value(0), "dataset seed: sample i depends only on (seed, i)")
      ("nodes", po::value(&nodes)->default_value(nodes), "node range MIN..MAX per part")
      ("jobs,j", po::value(&d.jobs)->default_value(int(std::max(1u, std::thread::hardware_concurrency()))),
       "parts simulated in parallel (each with cores/jobs threads)")
      ("material", po::value(&d.material)->default_value(d.material), "ti64, 316l, in718, alsi10mg")
      ("layers", po::value(&d.layers), "K layer groups per part (the old layering; default: --layer-height)")
      ("layer-height", po::value(&d.layer_height)->default_value(d.layer_height),
       "layer groups of this height (mm) from the plate, the same for every part")
      ("supports", po::value<std::string>()->default_value("auto"), "auto: rigid supports under faces flatter than 45 degrees; none")
      ("device", po::value(&d.device)->default_value(d.device), "process simulation on cpu or cuda (parts batched on the GPU)")
      ("rtol", po::value(&d.rtol)->default_value(d.rtol), "CG relative residual of the solves (am simulate: 1e-8)")
      ("batch-nodes", po::value(&d.batch_nodes)->default_value(d.batch_nodes), "cuda: nodes solved together per batch")
      ("gpu-streams", po::value(&d.gpu_streams)->default_value(d.gpu_streams),
       "cuda: batches solved at once, each on its own stream")
      ("coarse-field", po::bool_switch(&d.coarse_field),
       "also solve each part at twice its voxel and store that displacement as displacement_coarse "
       "(the input of models that correct a coarse solve: dataset build --inputs displacement_coarse)")
      ("families", po::value(&families), "comma-separated families to draw from (default: all); a family named k times is drawn k times as often")
      ("splits", po::value(&splits),
       "generate only these splits, e.g. test or val,test (default: all); sample i keeps its split");
  po::variables_map vm;
  if (!flare::app::parse_args(
          "am dataset", args, opts, {}, vm,
          "am dataset --count N -o DIR [--seed S] [--nodes MIN..MAX] [--jobs J] [--material M] [--layer-height MM | --layers K] [--device cuda]",
          "  flare-surrogate am dataset --count 20 --out lpbf --nodes 5000..20000 --jobs 2\n"
          "  flare-surrogate am dataset --count 1400 --out lpbf --seed 7 --jobs 16   (rerun to resume)\n"
          "  flare-surrogate am dataset --count 5000 --out lpbf --device cuda       (GPU, parts batched)\n"
          "  flare-surrogate am dataset --count 50 --out walls --families wall,thin_wall --layers 5\n"
          "  flare-surrogate am dataset --count 1250 --out lpbf_test --splits test   (held-out parts only)\n"))
    return 0;
  d.out = out;
  const std::string supports = vm["supports"].as<std::string>();
  FLARE_INPUT_CHECK(supports == "auto" || supports == "none", "am dataset: --supports must be auto or none (got '",
                    supports, "')");
  d.supports = supports == "auto";
  FLARE_INPUT_CHECK(d.rtol > 0 && d.rtol < 1, "am dataset: --rtol must be in (0, 1) (got ", d.rtol, ")");
  FLARE_INPUT_CHECK(!(vm.count("layers") && !vm["layer-height"].defaulted()),
                    "am dataset: give --layers K or --layer-height MM, not both");
  flare::am::parse_node_range(nodes, "--nodes", d.part);
  std::stringstream list(families);
  for (std::string f; std::getline(list, f, ',');)
    if (!f.empty()) d.families.push_back(f);
  std::stringstream split_list(splits);
  for (std::string f; std::getline(split_list, f, ',');)
    if (!f.empty()) d.splits.push_back(f);

  flare::am::DatasetReport r = flare::am::generate_dataset(d, [](const flare::am::SampleRecord& s) {
    if (!flare::Progress::stderr_is_terminal() && s.error.empty())
      std::cerr << s.file << ": " << s.family << ", " << s.nodes << " nodes, "
                << (s.reused ? "reused" : flare::format_duration(s.solve_seconds) + " solve") << "\n";
  });
  std::cout << out << ": " << r.generated << " generated, " << r.reused << " reused, " << r.failed
            << " failed in " << flare::format_duration(r.seconds) << "; manifest.json, manifest.csv\n";
  if (r.failed > 0) {
    flare::app::print_error(std::to_string(r.failed) + " sample(s) failed (see \"error\" in " + out +
                            "/manifest.json); rerun to retry them");
    return 1;
  }
  return 0;
}

}  // namespace

FLARE_COMMAND("am dataset", "generate simulated LPBF parts for training (resumable)", run);
