// `flare-surrogate eval`: per-sample errors of a checkpoint on a dataset split or on solved meshes,
// in target units: the vector rel-L2, the rel-L2 of each target component (displacement_z...), MAE
// and max error, then the summary and, when part families are known, one row per family.
// The table, --json and --csv carry the same numbers. An ensemble checkpoint is scored by its
// member mean and adds each part's uncertainty and the calibration summary (docs/uncertainty.md).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "am/coarse_solve.h"
#include "app/command.h"
#include "app/eval_report.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "mesh/io.h"
#include "surrogate/calibrate.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/evaluate.h"
#include "surrogate/normalizer.h"
#include "surrogate/predictor.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;

// A dataset split. The features were computed when the dataset was built, so the dataset's feature
// recipe must be the checkpoint's (same columns AND the same coordinate normalisation).
app::Evaluation eval_dataset(const std::string& model, const surrogate::Checkpoint& ck,
                        const surrogate::Normalizer& norm, const std::string& data,
                        const std::string& split, const std::string& device,
                        const std::string& precision) {
  const surrogate::Dataset d(data);
  surrogate::check_dataset_matches("eval", model, norm, ck.feature_recipe, d, data);
  const auto& ids = d.split(split);
  FLARE_INPUT_CHECK(!ids.empty(), data, ": the ", split, " split is empty; choose another --split");
  app::Evaluation e;
  for (const auto& s : d.sources()) e.sources.push_back(fs::path(s).filename().string());
  e.families = d.families();
  e.columns = surrogate::metric_column_names(d.target_arrays(), d.target_components());
  e.what = split + " split";
  e.source_json = data;
  e.split = split;
  if (ck.num_members() > 1) {
    surrogate::Predictor predictor(ck, model, device, precision);
    for (auto& s : surrogate::evaluate_ensemble(predictor, d, ids)) {
      e.metrics.push_back(s.metrics);
      e.uncertainty.push_back(s.uncertainty);
    }
    e.ensemble = predictor.ensemble();
    return e;
  }
  const surrogate::Backend backend = surrogate::make_backend(device, precision);
  const surrogate::ParamLayout layout(ck.config);
  surrogate::check_supported(backend, ck.config, model);
  surrogate::Buffer<float> params(backend.ops.mem, layout.size(), "model parameters");
  params.upload(ck.params.data(), layout.size());
  // Evaluate with the dataset's statistics replaced by the checkpoint's: the model only knows its own.
  if (backend.bf16()) {
    surrogate::Model<surrogate::Bf16, float> net(layout, backend.ops_bf16);
    e.metrics = surrogate::evaluate(net, params.data(), norm, d, ids);
  } else {
    surrogate::Model<float> net(layout, backend.ops);
    e.metrics = surrogate::evaluate(net, params.data(), norm, d, ids);
  }
  return e;
}

// Solved meshes (with the true target arrays): features from the checkpoint's own recipe, so any
// mesh can be scored, e.g. the held-out parts regenerated with `am dataset --splits test`.
// coarse_sigma > 0: each prediction is the ensemble's mean combined with the part's coarse solve
// (`predict --coarse-solve`, am/coarse_solve.h); the uncertainty columns stay the ensemble's.
app::Evaluation eval_meshes(const std::string& model, const surrogate::Normalizer& norm,
                       const std::vector<std::string>& inputs, const std::string& device,
                       const std::string& precision, double coarse_sigma) {
  surrogate::Predictor predictor(model, device, precision);
  if (coarse_sigma > 0) {
    const auto reads = predictor.recipe().input_arrays();
    FLARE_INPUT_CHECK(std::find(reads.begin(), reads.end(), am::kCoarseField) == reads.end(), model,
                      ": this model reads the coarse solve as an input (", am::kCoarseField,
                      "); --coarse-solve would count that solve twice. Drop --coarse-solve");
    FLARE_INPUT_CHECK(predictor.ensemble(), model, ": --coarse-solve weighs the coarse solve "
                      "against an ensemble's uncertainty score, and this is a single model");
    FLARE_INPUT_CHECK(norm.target_arrays.size() == 1 && norm.target_components[0] == 3, model,
                      ": --coarse-solve needs one 3-component target (a displacement)");
  }
  app::Evaluation e;
  e.columns = surrogate::metric_column_names(norm.target_arrays, norm.target_components);
  Progress progress(std::int64_t(inputs.size()), "eval", "meshes");
  for (const std::string& path : inputs) {
    mesh::Mesh m = mesh::read_mesh(path);
    am::ensure_coarse_field(m, predictor.recipe().input_arrays(), am::default_process(device), path);
    for (std::size_t t = 0; t < norm.target_arrays.size(); ++t) {
      const mesh::DataArray* a = m.point_data.find(norm.target_arrays[t]);
      FLARE_INPUT_CHECK(a && a->components() == norm.target_components[t], path,
                        ": no true point array '", norm.target_arrays[t], "' with ",
                        norm.target_components[t], " components to compare with; eval needs "
                        "solved meshes (use predict for unsolved ones)");
    }
    const mesh::FeatureMatrix truth = surrogate::target_rows(m, norm.target_arrays);
    surrogate::SampleMetrics s;
    if (predictor.ensemble()) {
      const surrogate::EnsemblePrediction p = predictor.infer_ensemble(m, path);
      if (coarse_sigma > 0) {
        const am::CoarseSolve c = am::coarse_solve(m, am::default_process(device), am::kCoarseFactor, path);
        const double a = am::surrogate_weight(p.score, coarse_sigma);
        mesh::FeatureMatrix mixed = p.mean;
        for (Eigen::Index i = 0; i < mixed.rows(); ++i)
          for (int k = 0; k < 3; ++k) mixed(i, k) = float(a * p.mean(i, k) + (1 - a) * c.displacement(i, k));
        s = surrogate::sample_metrics(mixed, truth);
      } else {
        s = surrogate::sample_metrics(p.mean, truth);
      }
      e.uncertainty.push_back(surrogate::part_uncertainty(p, truth, norm.target_components));
    } else {
      s = surrogate::sample_metrics(predictor.infer(m, path), truth);
    }
    s.sample = std::int64_t(e.metrics.size());
    e.metrics.push_back(s);
    e.sources.push_back(fs::path(path).filename().string());
    const auto f = m.field_strings.find("family");
    e.families.push_back(f == m.field_strings.end() ? "" : f->second);
    progress.advance();
  }
  progress.finish();
  e.what = std::to_string(inputs.size()) + " meshes";
  e.source_json = inputs;
  e.ensemble = predictor.ensemble();
  return e;
}

int eval_cmd(const app::Args& args) {
  std::string model, data, split = "test", csv, device = "cpu", precision = "fp32";
  double coarse_sigma = 0.5;
  std::vector<std::string> inputs;
  po::options_description opts("options");
  opts.add_options()
      ("model,m", po::value(&model)->required(), "checkpoint from `train`, or the file name of a bundled model (lpbf-default.h5, lpbf-v2-geometry.h5)")
      ("input", po::value(&inputs), "solved meshes (.vtu ...) carrying the true target arrays")
      ("data", po::value(&data), "dataset file from `dataset build` (instead of meshes)")
      ("split", po::value(&split)->default_value(split), "train | val | test (with --data)")
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
      ("precision", po::value(&precision)->default_value(precision), "fp32 | bf16 (bf16 activations; needs --device cuda)")
      ("coarse-solve", "score the model combined with each mesh's coarse solve, as `predict "
                       "--coarse-solve` makes it (meshes, ensemble models)")
      ("coarse-sigma", po::value(&coarse_sigma)->default_value(coarse_sigma), "the coarse solve's expected relative error (with --coarse-solve)")
      ("json", "print the metrics as JSON instead of a table")
      ("csv", po::value(&csv), "also write the per-sample metrics to this CSV file");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!app::parse_args("eval", args, opts, pos, vm,
                       "eval --model model.h5 (--data data.h5 | MESH...) [options]",
                       "  flare-surrogate eval --model model.h5 --data data.h5\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --split val --json\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --csv errors.csv\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --device cuda\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --device cuda --precision bf16\n"
                       "  flare-surrogate eval -m model.h5 lpbf_test/sample_*.vtu   # solved meshes\n"
                       "  flare-surrogate eval -m ensemble.h5 parts/*.vtu --coarse-solve\n"))
    return 0;
  FLARE_INPUT_CHECK(data.empty() != inputs.empty(),
                    "eval: give either --data DATASET or solved meshes, not ",
                    data.empty() ? "neither" : "both");
  FLARE_INPUT_CHECK(split == "train" || split == "val" || split == "test",
                    "--split must be train, val or test, got '", split, "'");
  surrogate::check_precision(device, precision);
  if (!csv.empty()) check_writable(csv);
  const bool coarse = vm.count("coarse-solve") > 0;
  FLARE_INPUT_CHECK(!coarse || data.empty(), "eval: --coarse-solve needs the parts' meshes (a "
                    "dataset keeps their points, not their voxels); give solved meshes");
  FLARE_INPUT_CHECK(!coarse || (coarse_sigma > 0 && std::isfinite(coarse_sigma)),
                    "eval: --coarse-sigma must be a positive relative error (got ", coarse_sigma, ")");
  if (const fs::path r = surrogate::resolve_model_argument(model); r != fs::path(model)) {
    model = r.string();
    std::cerr << "using bundled model " << model << "\n";  // stderr: --json keeps stdout clean
  }
  const surrogate::Checkpoint ck = surrogate::load_checkpoint(model);
  FLARE_INPUT_CHECK(!ck.normalizer.is_null(), model,
                    ": the checkpoint has no normalizer; use one written by `flare-surrogate train`");
  const auto norm = surrogate::Normalizer::from_json(ck.normalizer, model);
  const app::Evaluation ev =
      data.empty() ? eval_meshes(model, norm, inputs, device, precision, coarse ? coarse_sigma : 0)
                   : eval_dataset(model, ck, norm, data, split, device, precision);
  FLARE_CHECK(ev.columns.size() == norm.target_names.size(), "eval: ", ev.columns.size(),
              " metric columns for ", norm.target_names.size(), " targets");
  const app::EvalSummary summary = app::summarize(ev);
  if (!csv.empty()) app::write_eval_csv(csv, ev, summary);
  if (vm.count("json")) std::cout << app::eval_json(model, ev, summary).dump(2) << "\n";
  else app::print_eval_table(ev, summary);
  return 0;
}

FLARE_COMMAND("eval", "errors of a trained checkpoint on a dataset split or on solved meshes", eval_cmd);

}  // namespace
