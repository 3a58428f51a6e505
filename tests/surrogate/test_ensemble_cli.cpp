// Deep ensembles through the executable (docs/uncertainty.md): `model ensemble` combines members
// trained with different --seed (and refuses mismatched ones, writing nothing), `info` shows the
// members and calibration, `predict` writes the member mean and <target>_uncertainty and warns
// above the threshold, and `eval` reports the calibration in the table, --json and --csv.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "surrogate/uncertainty.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;
using flare::test::lines;

namespace {

flare::test::CommandResult run(const std::string& args, bool merge_stderr = true) {
  return flare::test::run_cli(args, merge_stderr);
}

// Three members of one recipe (seeds 1..3), one of another width, and their calibrated ensemble.
class EnsembleCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_ensemble_cli_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
    test::write_solved_boxes(dir / "runs", 8, 5, [](int k) { return k % 2 ? "block" : "plate"; });
    const auto b = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                       " --target u --split 0.5,0.25,0.25");
    ASSERT_EQ(b.code, 0) << b.out;
    const std::string tiny = " --epochs 1 -L 1 -H 2 -M 4";
    for (int seed : {1, 2, 3}) {
      const auto t = run("train --data " + p("data.h5") + " -o " + p("m" + std::to_string(seed) + ".h5") +
                         tiny + " -C 8 --seed " + std::to_string(seed));
      ASSERT_EQ(t.code, 0) << t.out;
    }
    const auto w = run("train --data " + p("data.h5") + " -o " + p("wide.h5") + tiny + " -C 16");
    ASSERT_EQ(w.code, 0) << w.out;
    const auto e = run("model ensemble " + p("m1.h5") + " " + p("m2.h5") + " " + p("m3.h5") + " -o " +
                       p("ens.h5") + " --calibrate " + p("data.h5") + " --split val");
    ASSERT_EQ(e.code, 0) << e.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }

  static nlohmann::json json_of(const std::string& args) {
    const auto r = run(args, false);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out);
  }
  static std::vector<double> array(const std::string& file, const std::string& name) {
    const mesh::Mesh m = mesh::read_mesh(file);
    const mesh::DataArray* a = m.point_data.find(name);
    return a ? a->to_doubles() : std::vector<double>{};
  }
  // The score `predict` printed for the mesh ("...: uncertainty score X (...").
  static double printed_score(const std::string& out) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(out, m, std::regex("uncertainty score ([0-9.eE+-]+)"))) << out;
    return m.size() > 1 ? std::stod(m[1]) : -1;
  }
};
fs::path EnsembleCli::dir;

}  // namespace

TEST_F(EnsembleCli, InfoShowsTheMembersAndTheCalibration) {
  const auto j = json_of("info " + p("ens.h5") + " --json")["files"][0];
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["ensemble"]["members"], 3);
  EXPECT_EQ(j["ensemble"]["calibration"]["split"], "val");
  EXPECT_EQ(j["ensemble"]["calibration"]["summary"]["parts"], 2);
  EXPECT_GT(j["ensemble"]["sigma_scale"].get<double>(), 0.0);
  EXPECT_GT(j["ensemble"]["score_scale"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(j["ensemble"]["warn_score"].get<double>(), 0.35);
  EXPECT_TRUE(json_of("info " + p("m1.h5") + " --json")["files"][0]["ensemble"].is_null());
  const auto text = run("info " + p("ens.h5"));
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("ensemble    3 members, sigma scale"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("calibration val split of " + p("data.h5") + ": 2 parts"), std::string::npos)
      << text.out;
}

TEST_F(EnsembleCli, MismatchedOrTooFewMembersAreRefusedWithOneLineAndNoOutput) {
  const auto wide = run("model ensemble " + p("m1.h5") + " " + p("wide.h5") + " -o " + p("bad.h5"));
  EXPECT_EQ(wide.code, 2) << wide.out;
  EXPECT_EQ(lines(wide.out), 1) << wide.out;
  EXPECT_NE(wide.out.find("error: " + p("wide.h5") + ": model config"), std::string::npos) << wide.out;
  const auto one = run("model ensemble " + p("m1.h5") + " -o " + p("bad.h5"));
  EXPECT_EQ(one.code, 2) << one.out;
  EXPECT_EQ(lines(one.out), 1) << one.out;
  EXPECT_NE(one.out.find(p("m1.h5") + " is one model"), std::string::npos) << one.out;
  const auto unchanged = run("model ensemble " + p("ens.h5") + " -o " + p("bad.h5"));
  EXPECT_EQ(unchanged.code, 2) << unchanged.out;
  EXPECT_NE(unchanged.out.find("--warn-above X to change"), std::string::npos) << unchanged.out;
  const auto missing = run("model ensemble " + p("m1.h5") + " " + p("nope.h5") + " -o " + p("bad.h5"));
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_EQ(lines(missing.out), 1) << missing.out;
  EXPECT_NE(missing.out.find(p("nope.h5")), std::string::npos) << missing.out;
  const auto nested = run("model ensemble " + p("ens.h5") + " " + p("m1.h5") + " -o " + p("bad.h5"));
  EXPECT_EQ(nested.code, 2) << nested.out;
  EXPECT_NE(nested.out.find("already an ensemble of 3 members"), std::string::npos) << nested.out;
  // Identical members have no spread to calibrate: refused after the warning, nothing written.
  const auto same = run("model ensemble " + p("m1.h5") + " " + p("m1.h5") + " -o " + p("bad.h5") +
                        " --calibrate " + p("data.h5"));
  EXPECT_EQ(same.code, 2) << same.out;
  EXPECT_NE(same.out.find("identical members"), std::string::npos) << same.out;
  EXPECT_FALSE(fs::exists(p("bad.h5")));
}

// The ensemble's prediction is the mean of what each member predicts on its own, and its
// uncertainty array and score are the documented functions of the members' spread.
TEST_F(EnsembleCli, PredictWritesTheMemberMeanAndItsUncertainty) {
  const std::string in = p("runs/box0.vtu");
  std::vector<std::vector<double>> members;
  for (int k : {1, 2, 3}) {
    const std::string out = p("box0_m" + std::to_string(k) + ".vtu");
    const auto r = run("predict " + in + " -m " + p("m" + std::to_string(k) + ".h5") + " -o " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.find("uncertainty score"), std::string::npos) << "a single model has none";
    EXPECT_TRUE(array(out, "u_uncertainty").empty());
    members.push_back(array(out, "u_pred"));
  }
  const auto r = run("predict " + in + " -m " + p("ens.h5") + " -o " + p("box0_ens.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto info = json_of("info " + p("ens.h5") + " --json")["files"][0]["ensemble"];
  const double scale = info["sigma_scale"], score_scale = info["score_scale"];
  const std::vector<double> mean = array(p("box0_ens.vtu"), "u_pred");
  const std::vector<double> sigma = array(p("box0_ens.vtu"), "u_uncertainty");
  const std::size_t N = sigma.size();
  ASSERT_GT(N, 0u);
  ASSERT_EQ(mean.size(), 3 * N);
  double var_sum = 0, mean_sq = 0, max_mean = 0;
  for (double v : mean) max_mean = std::max(max_mean, std::abs(v));
  for (std::size_t i = 0; i < N; ++i) {
    double var = 0;
    for (int c = 0; c < 3; ++c) {
      const std::size_t v = 3 * i + std::size_t(c);
      const double mu = (members[0][v] + members[1][v] + members[2][v]) / 3;
      EXPECT_NEAR(mean[v], mu, 1e-6 * max_mean) << "point " << i;
      for (const auto& m : members) var += (m[v] - mu) * (m[v] - mu) / 2;  // sample variance, K-1 = 2
      mean_sq += mu * mu;
    }
    var_sum += scale * scale * var;
    EXPECT_NEAR(sigma[i], scale * std::sqrt(var / 3), 1e-9 + 1e-6 * sigma[i]) << "point " << i;
  }
  const double score = score_scale * std::sqrt(var_sum / mean_sq);
  EXPECT_NEAR(printed_score(r.out), score, 1e-3 * score) << r.out;
}

// Members with the same weights: the ensemble path predicts what the plain checkpoint predicts,
// bit for bit, with zero uncertainty.
TEST_F(EnsembleCli, IdenticalMembersPredictExactlyThePlainModel) {
  const auto e = run("model ensemble " + p("m1.h5") + " " + p("m1.h5") + " -o " + p("same.h5"));
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("warning: " + p("m1.h5") + " has the same weights as"), std::string::npos) << e.out;
  const std::string in = p("runs/box3.vtu");
  ASSERT_EQ(run("predict " + in + " -m " + p("m1.h5") + " -o " + p("box3_plain.vtu")).code, 0);
  const auto r = run("predict " + in + " -m " + p("same.h5") + " -o " + p("box3_same.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(array(p("box3_same.vtu"), "u_pred"), array(p("box3_plain.vtu"), "u_pred"));
  const auto sigma = array(p("box3_same.vtu"), "u_uncertainty");
  ASSERT_FALSE(sigma.empty());
  for (double s : sigma) ASSERT_EQ(s, 0.0);
  EXPECT_EQ(printed_score(r.out), 0.0);
}

TEST_F(EnsembleCli, WarningFiresOnlyWhenTheScoreExceedsTheThreshold) {
  const std::string members = p("m1.h5") + " " + p("m2.h5") + " " + p("m3.h5");
  ASSERT_EQ(run("model ensemble " + members + " -o " + p("strict.h5") + " --warn-above 1e-9").code, 0);
  ASSERT_EQ(run("model ensemble " + members + " -o " + p("lax.h5") + " --warn-above 1e9").code, 0);
  const std::string in = p("runs/box1.vtu");
  const auto strict = run("predict " + in + " -m " + p("strict.h5") + " -o " + p("box1_strict.vtu"));
  ASSERT_EQ(strict.code, 0) << strict.out;
  const double score = printed_score(strict.out);
  ASSERT_GT(score, 1e-9);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(strict.out, m,
                                std::regex("warning: " + std::regex_replace(in, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                                           ": estimated relative error ([0-9.eE+-]+) > 1e-09 "
                                           R"(\(spread of the 3 ensemble members, uncalibrated\))")))
      << strict.out;
  EXPECT_NEAR(std::stod(m[1]), score, 1e-2 * score);
  const auto lax = run("predict " + in + " -m " + p("lax.h5") + " -o " + p("box1_lax.vtu"));
  ASSERT_EQ(lax.code, 0) << lax.out;
  EXPECT_EQ(lax.out.find("warning:"), std::string::npos) << lax.out;
  for (const char* arg : {"-1", "0.3x", "autox", "auto"}) {  // auto needs --calibrate to fit on
    const auto bad = run("model ensemble " + members + " -o " + p("x.h5") + " --warn-above " + arg);
    EXPECT_EQ(bad.code, 2) << arg << ": " << bad.out;
    EXPECT_EQ(lines(bad.out), 1) << bad.out;
    EXPECT_FALSE(fs::exists(p("x.h5"))) << arg;
  }
}

TEST_F(EnsembleCli, EvalReportsCalibrationInJsonTableAndCsv) {
  const auto j = json_of("eval -m " + p("ens.h5") + " --data " + p("data.h5") + " --split test --json");
  const auto& c = j["calibration"];
  ASSERT_TRUE(c.is_object()) << j.dump(2);
  EXPECT_EQ(c["members"], 3);
  EXPECT_EQ(c["parts"], j["samples"].size());
  for (const char* key : {"spearman", "coverage_2sigma", "warn_score", "sigma_scale", "calibrated_on",
                          "warned_error_above_0_5", "warned_error_below_0_2"})
    EXPECT_TRUE(c.contains(key)) << key;
  const double coverage = c["coverage_2sigma"];
  EXPECT_GE(coverage, 0.0);
  EXPECT_LE(coverage, 1.0);
  // The summary is the bookkeeping of the per-sample rows.
  std::int64_t bad = 0, bad_warned = 0, good = 0, good_warned = 0;
  std::vector<double> score, err;
  for (const auto& s : j["samples"]) {
    const double e = s["rel_l2"], u = s["uncertainty_score"];
    EXPECT_EQ(s["warned"].get<bool>(), u > c["warn_score"].get<double>());
    if (e > 0.5) bad_warned += s["warned"].get<bool>(), ++bad;
    if (e < 0.2) good_warned += s["warned"].get<bool>(), ++good;
    score.push_back(u);
    err.push_back(e);
  }
  EXPECT_EQ(c["warned_error_above_0_5"]["parts"], bad);
  EXPECT_EQ(c["warned_error_above_0_5"]["warned"], bad_warned);
  EXPECT_EQ(c["warned_error_below_0_2"]["parts"], good);
  EXPECT_EQ(c["warned_error_below_0_2"]["warned"], good_warned);
  const double rho = surrogate::spearman(score, err);
  if (std::isfinite(rho)) EXPECT_NEAR(c["spearman"].get<double>(), rho, 1e-12);
  else EXPECT_TRUE(c["spearman"].is_null());

  // On the split it was fitted on, the stored scale gives the coverage `model ensemble` reported.
  const auto val = json_of("eval -m " + p("ens.h5") + " --data " + p("data.h5") + " --split val --json");
  EXPECT_GE(val["calibration"]["coverage_2sigma"].get<double>(), 0.95);
  EXPECT_NEAR(val["calibration"]["coverage_2sigma"].get<double>(),
              val["calibration"]["calibrated_on"]["summary"]["coverage_2sigma"].get<double>(), 1e-3);
  // ... and the stored score scale makes the median part score its real error there.
  std::vector<double> ratio;
  for (const auto& s : val["samples"])
    ratio.push_back(s["rel_l2"].get<double>() / s["uncertainty_score"].get<double>());
  ASSERT_EQ(ratio.size(), 2u);
  EXPECT_NEAR(0.5 * (ratio[0] + ratio[1]), 1.0, 1e-3);

  // Solved meshes give the same per-part score as their dataset rows.
  const auto meshes = json_of("eval -m " + p("ens.h5") + " " + p("runs/box0.vtu") + " " +
                              p("runs/box1.vtu") + " --json");
  EXPECT_EQ(meshes["calibration"]["parts"], 2);
  const auto all = json_of("eval -m " + p("ens.h5") + " --data " + p("data.h5") + " --split train --json");
  for (const auto* split : {&j, &val, &all})
    for (const auto& s : (*split)["samples"])
      for (const auto& ms : meshes["samples"])
        if (s["source"] == ms["source"])
          EXPECT_NEAR(s["uncertainty_score"].get<double>(), ms["uncertainty_score"].get<double>(),
                      1e-4 * ms["uncertainty_score"].get<double>());

  const auto plain = json_of("eval -m " + p("m1.h5") + " --data " + p("data.h5") + " --json");
  EXPECT_TRUE(plain["calibration"].is_null());
  EXPECT_FALSE(plain["samples"][0].contains("uncertainty_score"));

  const auto table = run("eval -m " + p("ens.h5") + " --data " + p("data.h5") + " --csv " + p("e.csv"));
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("uncertainty (ensemble of 3, sigma scale"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("values within +-2 sigma"), std::string::npos) << table.out;
  std::ifstream csv(p("e.csv"));
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",uncertainty_score,coverage_2sigma,warned"), std::string::npos) << header;
}

// One ensemble alone: --warn-above X keeps its members and calibration and changes the threshold
// only; --calibrate fits it again from the raw spread (the same scale as when first calibrated).
TEST_F(EnsembleCli, OneEnsembleIsReThresholdedOrRecalibrated) {
  const auto r = run("model ensemble " + p("ens.h5") + " -o " + p("strict.h5") + " --warn-above 0.05");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("warns above estimated rel-L2 0.05"), std::string::npos) << r.out;
  const auto strict = surrogate::load_checkpoint(p("strict.h5"));
  const auto was = surrogate::load_checkpoint(p("ens.h5"));
  EXPECT_EQ(strict.more_members, was.more_members);
  EXPECT_EQ(strict.params, was.params);
  auto a = strict.ensemble, b = was.ensemble;
  EXPECT_DOUBLE_EQ(a.at("warn_score").get<double>(), 0.05);
  a.erase("warn_score");
  b.erase("warn_score");
  EXPECT_EQ(a, b);  // sigma and score scales, sources, calibration record
  // info says that the calibration's warning counts were taken at the old threshold.
  const auto text = run("info " + p("strict.h5"));
  EXPECT_NE(text.out.find("warns above estimated rel-L2 0.05"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(", the threshold of the calibration)"), std::string::npos) << text.out;
  EXPECT_EQ(run("info " + p("ens.h5")).out.find("the threshold of the calibration"), std::string::npos);

  const auto again = run("model ensemble " + p("strict.h5") + " -o " + p("again.h5") +
                         " --calibrate " + p("data.h5") + " --split val");
  ASSERT_EQ(again.code, 0) << again.out;
  const auto re = surrogate::load_checkpoint(p("again.h5")).ensemble;
  EXPECT_NEAR(re.at("sigma_scale").get<double>(), was.ensemble.at("sigma_scale").get<double>(),
              1e-6 * was.ensemble.at("sigma_scale").get<double>());
  EXPECT_NEAR(re.at("score_scale").get<double>(), was.ensemble.at("score_scale").get<double>(),
              1e-6 * was.ensemble.at("score_scale").get<double>());
}

