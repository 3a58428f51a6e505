// `flare-surrogate eval`: per-sample errors of a checkpoint on a dataset split, in target units.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/evaluate.h"
#include "surrogate/normalizer.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

int eval_cmd(const app::Args& args) {
  std::string model, data, split = "test", csv, device = "cpu";
  po::options_description opts("options");
  opts.add_options()
      ("model,m", po::value(&model)->required(), "checkpoint from `train`")
      ("data", po::value(&data)->required(), "dataset file from `dataset build`")
      ("split", po::value(&split)->default_value(split), "train | val | test")
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
      ("json", "print the metrics as JSON instead of a table")
      ("csv", po::value(&csv), "also write the per-sample metrics to this CSV file");
  po::variables_map vm;
  if (!app::parse_args("eval", args, opts, {}, vm, "eval --model model.h5 --data data.h5 [options]",
                       "  flare-surrogate eval --model model.h5 --data data.h5\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --split val --json\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --csv errors.csv\n"
                       "  flare-surrogate eval -m model.h5 --data data.h5 --device cuda\n"))
    return 0;
  FLARE_INPUT_CHECK(split == "train" || split == "val" || split == "test",
                    "--split must be train, val or test, got '", split, "'");
  if (!csv.empty()) check_writable(csv);
  const surrogate::Checkpoint ck = surrogate::load_checkpoint(model);
  FLARE_INPUT_CHECK(!ck.normalizer.is_null(), model,
                    ": the checkpoint has no normalizer; use one written by `flare-surrogate train`");
  const auto norm = surrogate::Normalizer::from_json(ck.normalizer, model);
  const surrogate::Dataset d(data);
  FLARE_INPUT_CHECK(norm.feature_names == d.feature_names(), "eval: ", model, " was trained on features [",
                    join(norm.feature_names), "] but ", data, " has [", join(d.feature_names()),
                    "]; rebuild the dataset with the model's inputs or use a matching model");
  FLARE_INPUT_CHECK(norm.target_names == d.target_names(), "eval: ", model, " predicts [",
                    join(norm.target_names), "] but ", data, " has targets [",
                    join(d.target_names()), "]; use a dataset built with the same --target");
  const auto& ids = d.split(split);
  FLARE_INPUT_CHECK(!ids.empty(), data, ": the ", split, " split is empty; choose another --split");
  const surrogate::Backend backend = surrogate::make_backend(device);
  const surrogate::ParamLayout layout(ck.config);
  surrogate::check_supported(backend, ck.config, model);
  surrogate::Model<float> net(layout, backend.ops);
  surrogate::Buffer<float> params(backend.ops.mem, layout.size(), "model parameters");
  params.upload(ck.params.data(), layout.size());
  // Evaluate with the dataset's statistics replaced by the checkpoint's: the model only knows its own.
  const auto metrics = surrogate::evaluate(net, params.data(), norm, d, ids);
  const auto sum = surrogate::summarize(metrics);

  auto source = [&](std::int64_t s) {
    return s < std::int64_t(d.sources().size()) ? fs::path(d.sources()[s]).filename().string()
                                                : std::string("-");
  };
  if (!csv.empty())
    write_atomically(csv, [&](const fs::path& tmp) {
      std::ofstream f(tmp);
      f.precision(9);
      f << "sample,source,points,rel_l2,mae,max_error\n";
      for (const auto& m : metrics)
        f << m.sample << "," << source(m.sample) << "," << m.points << "," << m.rel_l2 << ","
          << m.mae << "," << m.max_error << "\n";
      FLARE_CHECK(f.good(), "cannot write ", tmp.string());
    });
  if (vm.count("json")) {
    nlohmann::json j = {{"model", model},
                        {"data", data},
                        {"split", split},
                        {"summary",
                         {{"samples", metrics.size()},
                          {"mean_rel_l2", sum.mean_rel_l2},
                          {"median_rel_l2", sum.median_rel_l2},
                          {"max_rel_l2", sum.max_rel_l2},
                          {"mean_mae", sum.mean_mae},
                          {"max_error", sum.max_error}}},
                        {"samples", nlohmann::json::array()}};
    for (const auto& m : metrics)
      j["samples"].push_back({{"sample", m.sample},
                              {"source", source(m.sample)},
                              {"points", m.points},
                              {"rel_l2", m.rel_l2},
                              {"mae", m.mae},
                              {"max_error", m.max_error}});
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%-7s %-28s %9s %11s %11s %11s\n", "sample", "source", "points", "rel-L2", "MAE",
              "max error");
  for (const auto& m : metrics)
    std::printf("%-7lld %-28s %9lld %11.4e %11.4e %11.4e\n", (long long)m.sample,
                source(m.sample).substr(0, 28).c_str(), (long long)m.points, m.rel_l2, m.mae,
                m.max_error);
  std::printf("%s split, %zu samples: rel-L2 mean %.4e, median %.4e, max %.4e; MAE mean %.4e; "
              "max error %.4e (target units)\n",
              split.c_str(), metrics.size(), sum.mean_rel_l2, sum.median_rel_l2, sum.max_rel_l2,
              sum.mean_mae, sum.max_error);
  return 0;
}

FLARE_COMMAND("eval", "errors of a trained checkpoint on a dataset split", eval_cmd);

}  // namespace
