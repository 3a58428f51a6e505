#include "app/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace flare::app {

namespace {

double coverage(const surrogate::PartUncertainty& u) {
  return u.values > 0 ? double(u.within_2sigma) / double(u.values) : 0.0;
}

// The calibration block of --json: how the checkpoint was calibrated and what this data gives.
nlohmann::json calibration_json(const Evaluation& ev, const EvalSummary& s) {
  if (!ev.ensemble) return nullptr;
  nlohmann::json j = s.calibration->to_json();
  j["members"] = ev.ensemble->members;
  j["sigma_scale"] = ev.ensemble->sigma_scale;
  j["score_scale"] = ev.ensemble->score_scale;
  j["calibrated_on"] = ev.ensemble->calibration;
  return j;
}

std::string rate(std::int64_t warned, std::int64_t parts) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld of %lld", (long long)warned, (long long)parts);
  return buf;
}

}  // namespace

EvalSummary summarize(const Evaluation& ev) {
  EvalSummary s;
  s.all = surrogate::summarize(ev.metrics);
  const bool has_families = std::any_of(ev.metrics.begin(), ev.metrics.end(), [&](const auto& m) {
    return !ev.families[std::size_t(m.sample)].empty();
  });
  if (has_families) s.families = surrogate::summarize_by_family(ev.metrics, ev.families);
  if (ev.ensemble) s.calibration = surrogate::summarize_calibration(ev.uncertainty, ev.ensemble->warn_score);
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
    f << ",mae,max_error";
    if (ev.ensemble) f << ",uncertainty_score,coverage_2sigma,warned";
    f << "\n";
    for (std::size_t k = 0; k < metrics.size(); ++k) {
      const auto& m = metrics[k];
      f << m.sample << "," << ev.source_of(m.sample) << "," << ev.family_of(m.sample) << ",1," << m.points
        << "," << m.rel_l2;
      for (double r : m.component_rel_l2) f << "," << r;
      f << "," << m.mae << "," << m.max_error;
      if (ev.ensemble) {
        const auto& u = ev.uncertainty[k];
        f << "," << u.score << "," << coverage(u) << "," << (u.score > ev.ensemble->warn_score);
      }
      f << "\n";
    }
    auto summary_row = [&](const char* stat, const std::string& group, std::size_t n, double rel,
                           const std::vector<double>* comps, const std::string& mae,
                           const std::string& max_error) {
      f << stat << ",," << group << "," << n << ",," << rel;
      for (std::size_t c = 0; c < columns.size(); ++c) {
        f << ",";
        if (comps) f << (*comps)[c];
      }
      f << "," << mae << "," << max_error << (ev.ensemble ? ",,," : "") << "\n";
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
                      {"calibration", calibration_json(ev, s)},
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
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    const auto& m = metrics[k];
    nlohmann::json row = {{"sample", m.sample},
                          {"source", ev.source_of(m.sample)},
                          {"family", ev.family_of(m.sample)},
                          {"points", m.points},
                          {"rel_l2", m.rel_l2},
                          {"mae", m.mae},
                          {"max_error", m.max_error}};
    add_components(row, "rel_l2_", m.component_rel_l2);
    if (ev.ensemble) {
      row["uncertainty_score"] = ev.uncertainty[k].score;
      row["coverage_2sigma"] = coverage(ev.uncertainty[k]);
      row["warned"] = ev.uncertainty[k].score > ev.ensemble->warn_score;
    }
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
  std::printf(" %11s %11s", "MAE", "max error");
  if (ev.ensemble) std::printf(" %11s %8s", "unc. score", "in 2sig");
  std::printf("\n");
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    const auto& m = metrics[k];
    std::printf("%-7lld %-24s %-14s %9lld %11.4e", (long long)m.sample,
                ev.source_of(m.sample).substr(0, 24).c_str(), ev.family_of(m.sample).substr(0, 14).c_str(),
                (long long)m.points, m.rel_l2);
    for (double r : m.component_rel_l2) std::printf(" %15.4e", r);
    std::printf(" %11.4e %11.4e", m.mae, m.max_error);
    if (ev.ensemble)
      std::printf(" %11.4e %8.4f%s", ev.uncertainty[k].score, coverage(ev.uncertainty[k]),
                  ev.uncertainty[k].score > ev.ensemble->warn_score ? " warned" : "");
    std::printf("\n");
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
  if (s.calibration) {
    const auto& c = *s.calibration;
    std::printf("uncertainty (ensemble of %d, sigma scale %.4g, %s): rank correlation of score and "
                "rel-L2 %s; values within +-2 sigma %.4f (Gaussian: 0.9545); warned (score > %.3g): "
                "%s parts with rel-L2 > %.1f, %s with rel-L2 < %.1f\n",
                ev.ensemble->members, ev.ensemble->sigma_scale,
                ev.ensemble->calibrated() ? "calibrated" : "uncalibrated",
                std::isfinite(c.spearman) ? std::to_string(c.spearman).c_str() : "- (too few parts)",
                c.coverage, c.warn_score, rate(c.bad_warned, c.bad_parts).c_str(),
                surrogate::kBadPartRelL2, rate(c.good_warned, c.good_parts).c_str(),
                surrogate::kGoodPartRelL2);
  }
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
