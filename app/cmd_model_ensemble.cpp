// `flare-surrogate model ensemble`: combine separately trained checkpoints (the same train command
// with different --seed, run as concurrent processes) into one deep-ensemble checkpoint, and with
// --calibrate fit its σ scale on a dataset split (docs/uncertainty.md). Every member is read and
// checked, and the calibration done, before the output is written (atomically), so a bad member
// or dataset leaves no file behind. One ensemble alone is recalibrated (--calibrate) or given
// another warning threshold (--warn-above X, its calibration kept): how strict the warning should
// be is the user's call, and recalibrating needs the data, which a user of the bundled model lacks.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "surrogate/calibrate.h"
#include "surrogate/ensemble.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;

int model_ensemble_cmd(const app::Args& args) {
  std::vector<std::string> inputs;
  std::string output, data, split = "val", device = "cpu", precision = "fp32";
  std::string warn_arg = std::to_string(surrogate::kDefaultWarnScore).substr(0, 4);
  po::options_description opts("options");
  opts.add_options()
      ("input", po::value(&inputs)->multitoken(), "member checkpoints from `train` (2 or more), or one ensemble to recalibrate or re-threshold")
      ("output,o", po::value(&output)->required(), "the ensemble checkpoint to write")
      ("calibrate", po::value(&data), "dataset (from `dataset build`) to fit the uncertainty scale on")
      ("split", po::value(&split)->default_value(split), "train | val | test: the --calibrate split")
      ("warn-above", po::value(&warn_arg)->default_value(warn_arg),
       "predict warns when a part's estimated relative error exceeds this; 'auto' (with --calibrate): "
       "the score that 10% of the calibration parts with rel-L2 < 0.2 exceed")
      ("device", po::value(&device)->default_value(device), "cpu | cuda (for --calibrate)")
      ("precision", po::value(&precision)->default_value(precision), "fp32 | bf16 (for --calibrate; needs --device cuda)");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!app::parse_args("model ensemble", args, opts, pos, vm,
                       "model ensemble MEMBER.h5 MEMBER.h5... -o ensemble.h5 [--calibrate data.h5]",
                       "  flare-surrogate train --data data.h5 -o m1.h5 --seed 1   # members: one run per seed,\n"
                       "  flare-surrogate train --data data.h5 -o m2.h5 --seed 2   # concurrently if you like\n"
                       "  flare-surrogate model ensemble m1.h5 m2.h5 m3.h5 -o ens.h5 --calibrate data.h5\n"
                       "  flare-surrogate model ensemble m*.h5 -o ens.h5 --calibrate data.h5 --split val --warn-above 0.3\n"
                       "  flare-surrogate model ensemble m*.h5 -o ens.h5 --calibrate data.h5 --warn-above auto\n"
                       "  flare-surrogate model ensemble ens.h5 -o strict.h5 --warn-above 0.1   # keeps the calibration\n"
                       "  flare-surrogate predict part.vtu -m ens.h5    # + displacement_uncertainty, a score\n"))
    return 0;
  FLARE_INPUT_CHECK(!inputs.empty(), "model ensemble: give 2 or more member checkpoints, or one "
                    "ensemble to recalibrate or re-threshold");
  const bool warn_auto = warn_arg == "auto";
  double warn = std::nan("");
  if (!warn_auto) {
    try {
      std::size_t used = 0;
      warn = std::stod(warn_arg, &used);
      if (used != warn_arg.size()) warn = std::nan("");
    } catch (const std::exception&) {
    }
  }
  FLARE_INPUT_CHECK(!warn_auto || vm.count("calibrate"),
                    "model ensemble: --warn-above auto fits the threshold on --calibrate DATA; give it");
  FLARE_INPUT_CHECK(warn_auto || (std::isfinite(warn) && warn > 0),
                    "model ensemble: --warn-above must be a positive relative error or auto (got ", warn_arg, ")");
  FLARE_INPUT_CHECK(split == "train" || split == "val" || split == "test",
                    "model ensemble: --split must be train, val or test, got '", split, "'");
  FLARE_INPUT_CHECK(vm.count("calibrate") || vm["split"].defaulted(),
                    "model ensemble: --split chooses the --calibrate split; give --calibrate DATA too");
  surrogate::check_precision(device, precision);
  check_writable(output);

  surrogate::Checkpoint ens;
  if (inputs.size() == 1) {
    ens = surrogate::load_checkpoint(inputs[0]);
    FLARE_INPUT_CHECK(ens.num_members() > 1, "model ensemble: ", inputs[0],
                      " is one model; give 2 or more member checkpoints (or one ensemble)");
    FLARE_INPUT_CHECK(vm.count("calibrate") || !vm["warn-above"].defaulted(), "model ensemble: ",
                      inputs[0], " is an ensemble already; give --calibrate DATA to recalibrate "
                      "it or --warn-above X to change its warning threshold");
  } else {
    std::vector<std::pair<std::string, surrogate::Checkpoint>> members;
    for (const auto& in : inputs) members.emplace_back(in, surrogate::load_checkpoint(in));
    std::vector<std::string> warnings;
    ens = surrogate::combine_checkpoints(members, &warnings);
    for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  }
  surrogate::EnsembleInfo info = surrogate::EnsembleInfo::from_json(ens.ensemble, inputs[0]);
  if (!data.empty() && info.calibrated()) {
    // Fitted afresh, as for new members: the predictor must see the raw spread.
    info = surrogate::EnsembleInfo{info.members, 1, 1, surrogate::kDefaultWarnScore, info.sources, {}};
    ens.ensemble = info.to_json();
  }
  info.warn_score = warn;

  if (!data.empty()) {
    const surrogate::Dataset d(data);
    const surrogate::Normalizer norm = surrogate::Normalizer::from_json(ens.normalizer, inputs[0]);
    surrogate::check_dataset_matches("model ensemble", inputs[0], norm, ens.feature_recipe, d, data);
    surrogate::Predictor predictor(ens, output, device, precision);
    const surrogate::Calibration c =
        surrogate::calibrate_ensemble(predictor, d, d.split(split), warn, data + " (" + split + " split)");
    info.warn_score = c.warn_score;
    info.sigma_scale = c.sigma_scale;
    info.score_scale = c.score_scale;
    info.calibration = {{"data", data}, {"split", split}, {"summary", c.summary.to_json()}};
    std::printf("calibrated on %lld parts of the %s split of %s: sigma scale %.4g, score scale "
                "%.4g, +-2 sigma coverage %.3f, rank correlation of score and error %s\n",
                (long long)c.summary.parts, split.c_str(), data.c_str(), c.sigma_scale, c.score_scale,
                c.summary.coverage,
                std::isfinite(c.summary.spearman) ? std::to_string(c.summary.spearman).c_str() : "-");
  }
  ens.ensemble = info.to_json();
  surrogate::save_checkpoint(output, ens);
  std::printf("wrote %s: ensemble of %d members, %s, warns above estimated rel-L2 %.3g\n",
              output.c_str(), info.members,
              info.calibrated() ? "calibrated" : "uncalibrated (sigma scale 1; add --calibrate DATA)",
              info.warn_score);
  return 0;
}

FLARE_COMMAND("model ensemble", "combine checkpoints trained with different seeds into one deep ensemble",
              model_ensemble_cmd);

}  // namespace
