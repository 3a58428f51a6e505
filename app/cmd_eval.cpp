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
#include "surrogate/predictor.h"
#include "common/progress.h"
#include "mesh/io.h"

namespace {

using namespace flare;
namespace fs = std::filesystem;
namespace po = app::po;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// The rows of one evaluation: metrics[i].sample indexes `sources` and `families`.
struct Evaluation {
  std::vector<surrogate::SampleMetrics> metrics;
  std::vector<std::string> sources, families, columns;
  std::string what;  // "test split", "3 meshes": for the summary line
};

// A dataset split. The features were computed when the dataset was built, so the dataset's feature
// recipe must be the checkpoint's (same columns AND the same coordinate normalisation).
Evaluation eval_dataset(const std::string& model, const surrogate::Checkpoint& ck,
                        const surrogate::Normalizer& norm, const std::string& data,
                        const std::string& split, const std::string& device) {
  const surrogate::Dataset d(data);
  FLARE_INPUT_CHECK(norm.feature_names == d.feature_names(), "eval: ", model, " was trained on features [",
                    join(norm.feature_names), "] but ", data, " has [", join(d.feature_names()),
                    "]; rebuild the dataset with the model's inputs or use a matching model");
  FLARE_INPUT_CHECK(norm.target_names == d.target_names(), "eval: ", model, " predicts [",
                    join(norm.target_names), "] but ", data, " has targets [",
                    join(d.target_names()), "]; use a dataset built with the same --target");
  FLARE_INPUT_CHECK(ck.feature_recipe.is_null() ||
                        mesh::FeatureRecipe::from_json(ck.feature_recipe, model).to_json() ==
                            d.recipe().to_json(),
                    "eval: ", data,
                    " normalises its features differently from ", model,
                    " (another training set fixed its origin and length scale); evaluate on the "
                    "solved meshes instead: flare-surrogate eval -m ", model, " MESH...");
  const auto& ids = d.split(split);
  FLARE_INPUT_CHECK(!ids.empty(), data, ": the ", split, " split is empty; choose another --split");
  const surrogate::Backend backend = surrogate::make_backend(device);
  const surrogate::ParamLayout layout(ck.config);
  surrogate::check_supported(backend, ck.config, model);
  surrogate::Model<float> net(layout, backend.ops);
  surrogate::Buffer<float> params(backend.ops.mem, layout.size(), "model parameters");
  params.upload(ck.params.data(), layout.size());
  Evaluation e;
  // Evaluate with the dataset's statistics replaced by the checkpoint's: the model only knows its own.
  e.metrics = surrogate::evaluate(net, params.data(), norm, d, ids);
  for (const auto& s : d.sources()) e.sources.push_back(fs::path(s).filename().string());
  e.families = d.families();
  e.columns = surrogate::metric_column_names(d.target_arrays(), d.target_components());
  e.what = split + " split";
  return e;
}

// Solved meshes (with the true target arrays): features from the checkpoint's own recipe, so any
// mesh can be scored, e.g. the held-out parts regenerated with `am dataset --splits test`.
Evaluation eval_meshes(const std::string& model, const surrogate::Normalizer& norm,
                       const std::vector<std::string>& inputs, const std::string& device) {
  surrogate::Predictor predictor(model, device);
  Evaluation e;
  e.columns = surrogate::metric_column_names(norm.target_arrays, norm.target_components);
  Progress progress(std::int64_t(inputs.size()), "eval", "meshes");
  for (const std::string& path : inputs) {
    mesh::Mesh m = mesh::read_mesh(path);
    for (std::size_t t = 0; t < norm.target_arrays.size(); ++t) {
      const mesh::DataArray* a = m.point_data.find(norm.target_arrays[t]);
      FLARE_INPUT_CHECK(a && a->components() == norm.target_components[t], path,
                        ": no true point array '", norm.target_arrays[t], "' with ",
                        norm.target_components[t], " components to compare with; eval needs "
                        "solved meshes (use predict for unsolved ones)");
    }
    predictor.predict(m, path);
    const std::int64_t N = m.num_points();
    mesh::FeatureMatrix pred(N, Eigen::Index(e.columns.size())), truth(pred.rows(), pred.cols());
    Eigen::Index col = 0;
    for (std::size_t t = 0; t < norm.target_arrays.size(); ++t) {
      const mesh::DataArray& y = *m.point_data.find(norm.target_arrays[t]);
      const mesh::DataArray& p = *m.point_data.find(norm.target_arrays[t] + "_pred");
      for (std::int64_t i = 0; i < N; ++i)
        for (int c = 0; c < y.components(); ++c) {
          truth(i, col + c) = float(y.get(i, c));
          pred(i, col + c) = float(p.get(i, c));
        }
      col += y.components();
    }
    surrogate::SampleMetrics s = surrogate::sample_metrics(pred, truth);
    s.sample = std::int64_t(e.metrics.size());
    e.metrics.push_back(s);
    e.sources.push_back(fs::path(path).filename().string());
    const auto f = m.field_strings.find("family");
    e.families.push_back(f == m.field_strings.end() ? "" : f->second);
    progress.advance();
  }
  progress.finish();
  e.what = std::to_string(inputs.size()) + " meshes";
  return e;
}

int eval_cmd(const app::Args& args) {
  std::string model, data, split = "test", csv, device = "cpu";
  std::vector<std::string> inputs;
  po::options_description opts("options");
  opts.add_options()
      ("model,m", po::value(&model)->required(), "checkpoint from `train`")
      ("input", po::value(&inputs), "solved meshes (.vtu ...) carrying the true target arrays")
      ("data", po::value(&data), "dataset file from `dataset build` (instead of meshes)")
      ("split", po::value(&split)->default_value(split), "train | val | test (with --data)")
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
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
                       "  flare-surrogate eval -m model.h5 lpbf_test/sample_*.vtu   # solved meshes\n"))
    return 0;
  FLARE_INPUT_CHECK(data.empty() != inputs.empty(),
                    "eval: give either --data DATASET or solved meshes, not ",
                    data.empty() ? "neither" : "both");
  FLARE_INPUT_CHECK(split == "train" || split == "val" || split == "test",
                    "--split must be train, val or test, got '", split, "'");
  if (!csv.empty()) check_writable(csv);
  const surrogate::Checkpoint ck = surrogate::load_checkpoint(model);
  FLARE_INPUT_CHECK(!ck.normalizer.is_null(), model,
                    ": the checkpoint has no normalizer; use one written by `flare-surrogate train`");
  const auto norm = surrogate::Normalizer::from_json(ck.normalizer, model);
  const Evaluation ev = data.empty() ? eval_meshes(model, norm, inputs, device)
                                     : eval_dataset(model, ck, norm, data, split, device);
  const auto& metrics = ev.metrics;
  const auto& columns = ev.columns;
  const auto sum = surrogate::summarize(metrics);
  FLARE_CHECK(columns.size() == norm.target_names.size(), "eval: ", columns.size(),
              " metric columns for ", norm.target_names.size(), " targets");
  // Per-family rows whenever any family is known (`am dataset` parts carry theirs).
  const bool has_families = std::any_of(metrics.begin(), metrics.end(), [&](const auto& m) {
    return !ev.families[std::size_t(m.sample)].empty();
  });
  const auto families = has_families ? surrogate::summarize_by_family(metrics, ev.families)
                                     : std::vector<surrogate::FamilySummary>{};

  auto source = [&](std::int64_t s) { return ev.sources[std::size_t(s)]; };
  auto family = [&](std::int64_t s) { return ev.families[std::size_t(s)]; };
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
                        {"data", data.empty() ? nlohmann::json(inputs) : nlohmann::json(data)},
                        {"split", data.empty() ? std::string() : split},
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
  std::printf("%s, %zu samples: rel-L2 mean %.4e, median %.4e, max %.4e; MAE mean %.4e; "
              "max error %.4e (target units)\n",
              ev.what.c_str(), metrics.size(), sum.mean_rel_l2, sum.median_rel_l2, sum.max_rel_l2,
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

FLARE_COMMAND("eval", "errors of a trained checkpoint on a dataset split or on solved meshes", eval_cmd);

}  // namespace
