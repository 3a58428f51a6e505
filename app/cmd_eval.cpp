// `flare-surrogate eval`: per-sample errors of a checkpoint on a dataset split, in target units:
// the vector rel-L2, the rel-L2 of each target component (displacement_z...), MAE and max error,
// then the summary over the split and, when the dataset knows part families, one row per family.
// The table, --json and --csv carry the same numbers.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
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
  const auto columns = surrogate::metric_column_names(d.target_arrays(), d.target_components());
  FLARE_CHECK(columns.size() == std::size_t(d.num_targets()), "eval: ", columns.size(),
              " metric columns for ", d.num_targets(), " targets");
  // Per-family rows whenever the dataset knows any family (`am dataset` parts do).
  const bool has_families =
      std::any_of(ids.begin(), ids.end(), [&](std::int64_t s) { return !d.families()[s].empty(); });
  const auto families = has_families ? surrogate::summarize_by_family(metrics, d.families())
                                     : std::vector<surrogate::FamilySummary>{};

  auto source = [&](std::int64_t s) { return fs::path(d.sources()[s]).filename().string(); };
  auto family = [&](std::int64_t s) { return d.families()[s]; };
  if (!csv.empty())
    write_atomically(csv, [&](const fs::path& tmp) {
      // One table: a row per sample (samples = 1), then summary rows named in the sample column
      // (mean, median, max) for all samples (family "(all)") and for each family.
      std::ofstream f(tmp);
      f.precision(9);
      f << "sample,source,family,samples,points,rel_l2";
      for (const auto& c : columns) f << ",rel_l2_" << c;
      f << ",mae,max_error\n";
      for (const auto& m : metrics) {
        f << m.sample << "," << source(m.sample) << "," << family(m.sample) << ",1," << m.points
          << "," << m.rel_l2;
        for (double r : m.component_rel_l2) f << "," << r;
        f << "," << m.mae << "," << m.max_error << "\n";
      }
      auto summary_row = [&](const char* stat, const std::string& group, std::size_t n, double rel,
                             const std::vector<double>* comps, const std::string& mae,
                             const std::string& max_error) {
        f << stat << ",," << group << "," << n << ",," << rel;
        for (std::size_t c = 0; c < columns.size(); ++c) {
          f << ",";
          if (comps) f << (*comps)[c];
        }
        f << "," << mae << "," << max_error << "\n";
      };
      auto num = [](double v) {
        std::ostringstream o;
        o.precision(9);
        o << v;
        return o.str();
      };
      summary_row("mean", "(all)", metrics.size(), sum.mean_rel_l2, &sum.mean_component_rel_l2,
                  num(sum.mean_mae), "");
      summary_row("median", "(all)", metrics.size(), sum.median_rel_l2,
                  &sum.median_component_rel_l2, "", "");
      summary_row("max", "(all)", metrics.size(), sum.max_rel_l2, nullptr, "", num(sum.max_error));
      for (const auto& g : families) {
        summary_row("mean", g.family, g.samples, g.mean_rel_l2, &g.mean_component_rel_l2, "", "");
        summary_row("median", g.family, g.samples, g.median_rel_l2, &g.median_component_rel_l2, "", "");
      }
      FLARE_CHECK(f.good(), "cannot write ", tmp.string());
    });
  if (vm.count("json")) {
    auto add_components = [&](nlohmann::json& j, const std::string& prefix,
                              const std::vector<double>& v) {
      for (std::size_t c = 0; c < columns.size(); ++c) j[prefix + columns[c]] = v[c];
    };
    nlohmann::json summary = {{"samples", metrics.size()},
                              {"mean_rel_l2", sum.mean_rel_l2},
                              {"median_rel_l2", sum.median_rel_l2},
                              {"max_rel_l2", sum.max_rel_l2},
                              {"mean_mae", sum.mean_mae},
                              {"max_error", sum.max_error}};
    add_components(summary, "mean_rel_l2_", sum.mean_component_rel_l2);
    add_components(summary, "median_rel_l2_", sum.median_component_rel_l2);
    nlohmann::json j = {{"model", model},
                        {"data", data},
                        {"split", split},
                        {"components", columns},
                        {"summary", summary},
                        {"families", nlohmann::json::array()},
                        {"samples", nlohmann::json::array()}};
    for (const auto& g : families) {
      nlohmann::json row = {{"family", g.family},
                            {"samples", g.samples},
                            {"mean_rel_l2", g.mean_rel_l2},
                            {"median_rel_l2", g.median_rel_l2}};
      add_components(row, "mean_rel_l2_", g.mean_component_rel_l2);
      add_components(row, "median_rel_l2_", g.median_component_rel_l2);
      j["families"].push_back(std::move(row));
    }
    for (const auto& m : metrics) {
      nlohmann::json row = {{"sample", m.sample},
                            {"source", source(m.sample)},
                            {"family", family(m.sample)},
                            {"points", m.points},
                            {"rel_l2", m.rel_l2},
                            {"mae", m.mae},
                            {"max_error", m.max_error}};
      add_components(row, "rel_l2_", m.component_rel_l2);
      j["samples"].push_back(std::move(row));
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%-7s %-24s %-14s %9s %11s", "sample", "source", "family", "points", "rel-L2");
  for (const auto& c : columns) std::printf(" %15s", c.substr(0, 15).c_str());
  std::printf(" %11s %11s\n", "MAE", "max error");
  for (const auto& m : metrics) {
    std::printf("%-7lld %-24s %-14s %9lld %11.4e", (long long)m.sample,
                source(m.sample).substr(0, 24).c_str(), family(m.sample).substr(0, 14).c_str(),
                (long long)m.points, m.rel_l2);
    for (double r : m.component_rel_l2) std::printf(" %15.4e", r);
    std::printf(" %11.4e %11.4e\n", m.mae, m.max_error);
  }
  std::printf("%s split, %zu samples: rel-L2 mean %.4e, median %.4e, max %.4e; MAE mean %.4e; "
              "max error %.4e (target units)\n",
              split.c_str(), metrics.size(), sum.mean_rel_l2, sum.median_rel_l2, sum.max_rel_l2,
              sum.mean_mae, sum.max_error);
  std::printf("per component rel-L2 mean (median):");
  for (std::size_t c = 0; c < columns.size(); ++c)
    std::printf(" %s %.4e (%.4e)", columns[c].c_str(), sum.mean_component_rel_l2[c],
                sum.median_component_rel_l2[c]);
  std::printf("\n");
  if (!families.empty()) {
    std::printf("\nby family (rel-L2 mean / median):\n%-16s %7s %23s", "family", "samples", "vector");
    for (const auto& c : columns) std::printf(" %23s", c.substr(0, 23).c_str());
    std::printf("\n");
    for (const auto& g : families) {
      std::printf("%-16s %7lld %11.4e/%11.4e", (g.family.empty() ? "(unknown)" : g.family).substr(0, 16).c_str(),
                  (long long)g.samples, g.mean_rel_l2, g.median_rel_l2);
      for (std::size_t c = 0; c < columns.size(); ++c)
        std::printf(" %11.4e/%11.4e", g.mean_component_rel_l2[c], g.median_component_rel_l2[c]);
      std::printf("\n");
    }
  }
  return 0;
}

FLARE_COMMAND("eval", "errors of a trained checkpoint on a dataset split", eval_cmd);

}  // namespace
