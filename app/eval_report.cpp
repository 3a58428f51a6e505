#include "app/eval_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace flare::app {

EvalSummary summarize(const Evaluation& ev) {
  EvalSummary s;
  s.all = surrogate::summarize(ev.metrics);
  const bool has_families = std::any_of(ev.metrics.begin(), ev.metrics.end(), [&](const auto& m) {
    return !ev.families[std::size_t(m.sample)].empty();
  });
  if (has_families) s.families = surrogate::summarize_by_family(ev.metrics, ev.families);
  return s;
}

void write_eval_csv(const std::filesystem::path& path, const Evaluation& ev, const EvalSummary& s) {
  const auto& metrics = ev.metrics;
  const auto& columns = ev.columns;
  const auto& sum = s.all;
  const auto& families = s.families;
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream f(tmp);
    f.precision(9);
    f << "sample,source,family,samples,points,rel_l2";
    for (const auto& c : columns) f << ",rel_l2_" << c;
    f << ",mae,max_error\n";
    for (const auto& m : metrics) {
      f << m.sample << "," << ev.source_of(m.sample) << "," << ev.family_of(m.sample) << ",1," << m.points
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
}

nlohmann::json eval_json(const std::string& model, const Evaluation& ev, const EvalSummary& s) {
  const auto& metrics = ev.metrics;
  const auto& columns = ev.columns;
  const auto& sum = s.all;
  const auto& families = s.families;
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
                      {"data", ev.source_json},
                      {"split", ev.split},
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
                          {"source", ev.source_of(m.sample)},
                          {"family", ev.family_of(m.sample)},
                          {"points", m.points},
                          {"rel_l2", m.rel_l2},
                          {"mae", m.mae},
                          {"max_error", m.max_error}};
    add_components(row, "rel_l2_", m.component_rel_l2);
    j["samples"].push_back(std::move(row));
  }
  return j;
}

void print_eval_table(const Evaluation& ev, const EvalSummary& s) {
  const auto& metrics = ev.metrics;
  const auto& columns = ev.columns;
  const auto& sum = s.all;
  const auto& families = s.families;
  std::printf("%-7s %-24s %-14s %9s %11s", "sample", "source", "family", "points", "rel-L2");
  for (const auto& c : columns) std::printf(" %15s", c.substr(0, 15).c_str());
  std::printf(" %11s %11s\n", "MAE", "max error");
  for (const auto& m : metrics) {
    std::printf("%-7lld %-24s %-14s %9lld %11.4e", (long long)m.sample,
                ev.source_of(m.sample).substr(0, 24).c_str(), ev.family_of(m.sample).substr(0, 14).c_str(),
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
}

}  // namespace flare::app
