// `flare-surrogate info` on checkpoints and datasets (.h5) as a user runs it: a dataset and a tiny
// model made here, the bundled model read-only, text and JSON, meshes and .h5 in one call, and
// bad files (truncated, neither kind, missing) as exit 2 with one line naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/h5.h"
#include "surrogate/param_layout.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;
using Json = nlohmann::json;

namespace {

struct Output {
  int code;
  std::string out, err;
};

class InfoH5Cli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_info_h5_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
    test::write_solved_boxes(dir / "runs", 6, 5, [](int k) { return k < 4 ? "block" : "plate"; });
    auto r = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                 " --target u --split 0.5,0.17,0.33");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("train --data " + p("data.h5") + " -o " + p("model.h5") +
            " --epochs 2 -C 16 -L 1 -H 2 -M 8 --lr 0.002 --seed 4");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }

  // stdout and stderr apart: a failure must print nothing on stdout and one line on stderr.
  static Output run(const std::string& args) {
    const std::string err = p("stderr.txt");
    const auto r = test::run_cli(args + " 2>" + err, false);
    return {r.code, r.out, test::read_text(err)};
  }
  static Json run_json(const std::string& args) {
    const Output r = run("info --json " + args);
    EXPECT_EQ(r.code, 0) << r.err;
    return Json::parse(r.out);
  }
  static void expect_one_line_error(const Output& r, const std::string& file,
                                    const std::string& says) {
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line: " << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
};
fs::path InfoH5Cli::dir;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_F(InfoH5Cli, CheckpointJsonMatchesTheFile) {
  const auto ck = surrogate::load_checkpoint(p("model.h5"));
  const Json j = run_json(p("model.h5"))["files"][0];
  EXPECT_EQ(j["kind"], "checkpoint");
  EXPECT_EQ(j["file"], p("model.h5"));
  EXPECT_EQ(j["format"], "flare-surrogate");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["model"]["config"], surrogate::to_json(ck.config));
  EXPECT_EQ(j["model"]["config"]["channel_dim"], 16);
  EXPECT_EQ(j["model"]["config"]["num_latents"], 8);
  EXPECT_EQ(j["model"]["parameters"], surrogate::ParamLayout(ck.config).size());
  EXPECT_FALSE(j["model"]["pointwise_baseline"].get<bool>());
  // The best checkpoint carries no optimizer state; its .last.h5 does.
  EXPECT_FALSE(j["resumable"].get<bool>());
  EXPECT_TRUE(j["optimizer"].is_null());
  const Json& t = j["training"];
  EXPECT_EQ(t["best_val"], ck.training.at("best_val"));
  EXPECT_TRUE(t["best_val"].is_number());
  EXPECT_EQ(t["best_step"], ck.training.at("best_step"));
  EXPECT_EQ(t["options"]["epochs"], 2);
  EXPECT_EQ(t["options"]["lr"], 0.002);
  EXPECT_EQ(t["options"]["seed"], 4);
  EXPECT_EQ(t["options"]["data"], p("data.h5"));
  EXPECT_FALSE(t["options"].contains("model"));  // reported once, under "model"
  EXPECT_TRUE(has(t["command_line"].get<std::string>(), "flare-surrogate train"));
  const surrogate::Dataset d(p("data.h5"));
  EXPECT_EQ(j["features"]["names"], d.feature_names());
  EXPECT_EQ(j["features"]["recipe"], ck.feature_recipe.at("features"));
  EXPECT_EQ(j["features"]["recipe_version"], 2);
  EXPECT_EQ(j["features"]["frame"], "part");
  EXPECT_TRUE(j["features"]["origin"].is_null());  // version 2: the origin is per mesh
  EXPECT_EQ(j["features"]["length_scale"], d.recipe().length_scale);
  EXPECT_EQ(j["targets"]["arrays"], Json::array({"u"}));
  EXPECT_EQ(j["targets"]["components"], Json::array({3}));
  EXPECT_EQ(j["targets"]["names"], Json::array({"u_0", "u_1", "u_2"}));
  EXPECT_EQ(j["training_domain"], d.training_domain());
  EXPECT_EQ(j["training_domain"]["samples"], 3);
}

TEST_F(InfoH5Cli, LastCheckpointIsResumable) {
  const auto ck = surrogate::load_checkpoint(p("model.last.h5"));
  const Json j = run_json(p("model.last.h5"))["files"][0];
  EXPECT_TRUE(j["resumable"].get<bool>());
  EXPECT_EQ(j["optimizer"]["step"], ck.step);
  EXPECT_GT(ck.step, 0);
  EXPECT_EQ(j["training"]["step"], ck.training.at("step"));
  EXPECT_EQ(j["training"]["epoch"], 2);
  const Output text = run("info " + p("model.last.h5"));
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(has(text.out, "resumable   yes: optimizer state at step " + std::to_string(ck.step) +
                                ", epoch 2"))
      << text.out;
}

TEST_F(InfoH5Cli, CheckpointText) {
  const auto ck = surrogate::load_checkpoint(p("model.h5"));
  const Output r = run("info " + p("model.h5"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind(p("model.h5") + "\n", 0), 0u) << r.out;
  EXPECT_TRUE(has(r.out, "FLARE  C=16 L=1 H=2 M=8 F=7 T=3")) << r.out;
  const std::string params = std::to_string(surrogate::ParamLayout(ck.config).size());
  EXPECT_TRUE(has(r.out, params.substr(0, params.size() - 3) + "," +
                             params.substr(params.size() - 3) + " parameters"))
      << r.out;
  EXPECT_TRUE(has(r.out, "resumable   no")) << r.out;
  EXPECT_TRUE(has(r.out, "epochs 2 lr 0.002")) << r.out;
  EXPECT_TRUE(has(r.out, "seed 4")) << r.out;
  EXPECT_TRUE(has(r.out, "data        " + p("data.h5"))) << r.out;
  EXPECT_TRUE(has(r.out, "best val rel-L2 ")) << r.out;
  EXPECT_FALSE(has(r.out, "never validated")) << r.out;
  EXPECT_TRUE(has(r.out, "features    7: coord_x, coord_y, coord_z,")) << r.out;
  EXPECT_TRUE(has(r.out, "recipe      version 2: coords, boundary_distance, boundary_normal; "
                         "part frame (x, y from the bounding-box centre, z above the plate)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "targets     u (3 components)")) << r.out;
  EXPECT_TRUE(has(r.out, "domain      3 train meshes")) << r.out;
  EXPECT_TRUE(has(r.out, "device-neutral")) << r.out;
}

// A checkpoint saved without train's metadata slots (as a library user may write one).
TEST_F(InfoH5Cli, BareCheckpointSaysWhatIsMissing) {
  surrogate::Checkpoint ck;
  ck.config.in_dim = 4;
  ck.config.out_dim = 2;
  ck.config.channel_dim = 8;
  ck.config.num_blocks = 0;
  ck.params.assign(std::size_t(surrogate::ParamLayout(ck.config).size()), 0.5f);
  surrogate::save_checkpoint(p("bare.h5"), ck);
  const Json j = run_json(p("bare.h5"))["files"][0];
  EXPECT_TRUE(j["model"]["pointwise_baseline"].get<bool>());
  EXPECT_EQ(j["model"]["parameters"], surrogate::ParamLayout(ck.config).size());
  EXPECT_FALSE(j["resumable"].get<bool>());
  EXPECT_TRUE(j["training"].is_null());
  EXPECT_TRUE(j["features"].is_null());
  EXPECT_TRUE(j["targets"].is_null());
  EXPECT_TRUE(j["training_domain"].is_null());
  const Output r = run("info " + p("bare.h5"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "pointwise MLP baseline")) << r.out;
  EXPECT_TRUE(has(r.out, "training    not recorded")) << r.out;
  EXPECT_TRUE(has(r.out, "features    not recorded")) << r.out;
  EXPECT_TRUE(has(r.out, "domain      not recorded")) << r.out;
}

TEST_F(InfoH5Cli, DatasetJsonMatchesTheFile) {
  const surrogate::Dataset d(p("data.h5"));
  const Json j = run_json(p("data.h5"))["files"][0];
  EXPECT_EQ(j["kind"], "dataset");
  EXPECT_EQ(j["format"], "flare-surrogate-dataset");
  EXPECT_EQ(j["samples"], 6);
  EXPECT_EQ(j["points"], d.offsets().back());
  std::int64_t lo = d.num_points(0), hi = lo;
  for (std::int64_t s = 0; s < 6; ++s) {
    lo = std::min(lo, d.num_points(s));
    hi = std::max(hi, d.num_points(s));
  }
  EXPECT_EQ(j["points_per_sample"]["min"], lo);
  EXPECT_EQ(j["points_per_sample"]["max"], hi);
  EXPECT_EQ(j["splits"]["train"], 3);
  EXPECT_EQ(j["splits"]["val"], 1);
  EXPECT_EQ(j["splits"]["test"], 2);
  EXPECT_EQ(j["features"]["names"], d.feature_names());
  EXPECT_EQ(j["features"]["length_scale"], d.recipe().length_scale);
  EXPECT_EQ(j["targets"]["names"], Json::array({"u_0", "u_1", "u_2"}));
  EXPECT_EQ(j["families"], (Json{{"block", 4}, {"plate", 2}}));
  ASSERT_EQ(j["stats"]["features"].size(), d.feature_mean().size());
  for (std::size_t c = 0; c < d.feature_mean().size(); ++c) {
    EXPECT_EQ(j["stats"]["features"][c]["name"], d.feature_names()[c]);
    EXPECT_EQ(j["stats"]["features"][c]["mean"], d.feature_mean()[c]);
    EXPECT_EQ(j["stats"]["features"][c]["std"], d.feature_std()[c]);
  }
  ASSERT_EQ(j["stats"]["targets"].size(), 3u);
  EXPECT_EQ(j["stats"]["targets"][2]["mean"], d.target_mean()[2]);
  EXPECT_EQ(j["stats"]["targets"][1]["std"], d.target_std()[1]);
  EXPECT_EQ(j["training_domain"], d.training_domain());
  EXPECT_EQ(j["provenance"]["tool"], "flare-surrogate");
  EXPECT_TRUE(has(j["provenance"]["command_line"].get<std::string>(), "dataset build"));
  EXPECT_TRUE(has(j["provenance"]["command_line"].get<std::string>(), "--split 0.5,0.17,0.33"));
  EXPECT_EQ(j["skipped"], Json::array());
}

TEST_F(InfoH5Cli, DatasetText) {
  const surrogate::Dataset d(p("data.h5"));
  const Output r = run("info " + p("data.h5"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "samples     6, " + std::to_string(d.offsets().back()) + " points"))
      << r.out;
  EXPECT_TRUE(has(r.out, "splits      train 3, val 1, test 2")) << r.out;
  EXPECT_TRUE(has(r.out, "families    block 4 plate 2")) << r.out;
  EXPECT_TRUE(has(r.out, "targets     u (3 components)")) << r.out;
  EXPECT_TRUE(has(r.out, "    u_2 ")) << r.out;
  EXPECT_TRUE(has(r.out, "    boundary_distance ")) << r.out;
  EXPECT_TRUE(has(r.out, "domain      3 train meshes")) << r.out;
  EXPECT_TRUE(has(r.out, "command     flare-surrogate dataset build")) << r.out;
}

TEST_F(InfoH5Cli, MeshesAndH5InOneCall) {
  const std::string mesh = p("runs/box0.vtu");
  const Json files = run_json(mesh + " " + p("model.h5") + " " + p("data.h5"))["files"];
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0]["points"], mesh::read_mesh(mesh).num_points());
  EXPECT_EQ(files[1]["kind"], "checkpoint");
  EXPECT_EQ(files[2]["kind"], "dataset");
  const Output text = run("info " + mesh + " " + p("model.h5") + " " + p("data.h5"));
  ASSERT_EQ(text.code, 0) << text.err;
  const auto at_mesh = text.out.find("points      "), at_ck = text.out.find("checkpoint  "),
             at_ds = text.out.find("dataset     ");
  ASSERT_NE(at_mesh, std::string::npos) << text.out;
  EXPECT_LT(at_mesh, at_ck);
  EXPECT_LT(at_ck, at_ds);
}

TEST_F(InfoH5Cli, BadH5FilesExitTwoWithOneLine) {
  {  // truncated: the first half of a good dataset
    std::ifstream in(p("data.h5"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(p("cut.h5"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  std::ofstream(p("text.h5")) << "not hdf5 at all\n";
  {  // valid HDF5 of neither kind: another tool's format, and no format at all
    h5::Handle f = h5::create_file(p("other.h5"));
    h5::write_attr(f, "format", std::string("someone-elses-tool"));
    h5::Handle g = h5::create_file(p("plain.h5"));
    const double x[2] = {1, 2};
    h5::write_dataset(g, "x", x, {2});
  }
  expect_one_line_error(run("info " + p("cut.h5")), p("cut.h5"), "truncated");
  expect_one_line_error(run("info " + p("text.h5")), p("text.h5"), "not an HDF5 file");
  expect_one_line_error(
      run("info " + p("other.h5")), p("other.h5"),
      "neither a flare-surrogate checkpoint nor a dataset (format 'someone-elses-tool')");
  expect_one_line_error(
      run("info " + p("plain.h5")), p("plain.h5"),
      "neither a flare-surrogate checkpoint nor a dataset (no 'format' attribute)");
  expect_one_line_error(run("info " + p("missing.h5")), p("missing.h5"), "not found");
  // A bad file after good ones: nothing printed for the good ones, in text or JSON.
  expect_one_line_error(run("info " + p("model.h5") + " " + p("cut.h5")), p("cut.h5"), "truncated");
  expect_one_line_error(run("info --json " + p("data.h5") + " " + p("plain.h5")), p("plain.h5"),
                        "neither");
}

TEST_F(InfoH5Cli, DamagedCheckpointIsNamed) {
  surrogate::Checkpoint ck = surrogate::load_checkpoint(p("model.h5"));
  ck.params[3] = std::nanf("");
  surrogate::save_checkpoint(p("nan.h5"), ck);
  expect_one_line_error(run("info " + p("nan.h5")), p("nan.h5"), "non-finite");
}

// The bundled model, read in place: the numbers its model card (models/README.md) states.
TEST_F(InfoH5Cli, BundledModel) {
  const std::string best = std::string(FLARE_SOURCE_DIR) + "/models/lpbf-default.h5";
  if (!fs::exists(best)) GTEST_SKIP() << "no bundled model in this tree";
  const Json j = run_json(best)["files"][0];
  EXPECT_EQ(j["model"]["parameters"], 593283);
  // Seven geometry features and the part's coarse solve (three components).
  EXPECT_EQ(j["model"]["config"]["in_dim"], 10);
  EXPECT_EQ(j["model"]["config"]["out_dim"], 3);
  EXPECT_EQ(j["targets"]["arrays"], Json::array({"displacement"}));
  EXPECT_EQ(j["features"]["names"].size(), 10u);
  EXPECT_EQ(j["features"]["names"][7], "displacement_coarse_0");
  EXPECT_NEAR(j["training"]["best_val"].get<double>(), 0.1869, 5e-4);  // member 0, session 24
  // Session 23's members fine-tuned (train --init-from) on 2,800 new parts (seed 22): a whole
  // 8-epoch OneCycle.
  EXPECT_EQ(j["training"]["options"]["epochs"], 8);
  EXPECT_EQ(j["training"]["step"], 22400);
  EXPECT_FALSE(j["training"]["init_from"].is_null());
  EXPECT_EQ(j["training_domain"]["samples"], 2800);
  EXPECT_FALSE(j["resumable"].get<bool>());
  // A calibrated deep ensemble (docs/uncertainty.md), positions in the part's own frame.
  EXPECT_EQ(j["ensemble"]["members"], 4);
  EXPECT_NEAR(j["ensemble"]["sigma_scale"].get<double>(), 4.188, 1e-3);
  EXPECT_NEAR(j["ensemble"]["warn_score"].get<double>(), 0.1643, 1e-4);
  EXPECT_NEAR(j["ensemble"]["calibration"]["summary"]["coverage_2sigma"].get<double>(), 0.9545, 1e-3);
  EXPECT_EQ(j["features"]["recipe_version"], 2);
  EXPECT_EQ(j["features"]["frame"], "part");
  const Output text = run("info " + best);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(has(text.out, "593,283 parameters")) << text.out;
  EXPECT_TRUE(has(text.out, "targets     displacement (3 components)")) << text.out;
  EXPECT_TRUE(has(text.out, "ensemble    4 members")) << text.out;
  EXPECT_TRUE(has(text.out, "array:displacement_coarse")) << text.out;
}

// The geometry-only default it replaced (session 19), kept for meshes that are no voxel lattice.
TEST_F(InfoH5Cli, GeometryOnlyModel) {
  const std::string m = std::string(FLARE_SOURCE_DIR) + "/models/lpbf-v2-geometry.h5";
  if (!fs::exists(m)) GTEST_SKIP() << "no geometry-only model in this tree";
  const Json j = run_json(m)["files"][0];
  EXPECT_EQ(j["model"]["parameters"], 593091);
  EXPECT_EQ(j["model"]["config"]["in_dim"], 7);
  EXPECT_NEAR(j["training"]["best_val"].get<double>(), 0.2075, 5e-4);  // member 0, run 2 of session 19
  EXPECT_EQ(j["training"]["options"]["epochs"], 3);
  EXPECT_EQ(j["training_domain"]["samples"], 3600);
  // Run 2 began from run 1's member 1 (a single model: no member index), after 6 epochs.
  ASSERT_TRUE(j["training"].contains("init_from"));
  EXPECT_FALSE(j["training"]["init_from"].contains("member"));
  EXPECT_EQ(j["training"]["init_from"]["step"], 21600);
  EXPECT_EQ(j["ensemble"]["members"], 4);
  EXPECT_NEAR(j["ensemble"]["sigma_scale"].get<double>(), 2.518, 1e-3);
  EXPECT_NEAR(j["ensemble"]["warn_score"].get<double>(), 0.212, 1e-12);
  const Output text = run("info " + m);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(has(text.out, "run1/m1.h5 (step 21600; train --init-from)")) << text.out;
}

// The version-1 model it replaced stays in models/ (checkpoints of recipe 1 keep loading).
TEST_F(InfoH5Cli, PreviousBundledModel) {
  const std::string v1 = std::string(FLARE_SOURCE_DIR) + "/models/lpbf-v1-10groups.h5";
  if (!fs::exists(v1)) GTEST_SKIP() << "no previous bundled model in this tree";
  const Json j = run_json(v1)["files"][0];
  EXPECT_EQ(j["model"]["parameters"], 593155);
  EXPECT_NEAR(j["training"]["best_val"].get<double>(), 0.309, 5e-4);
  EXPECT_EQ(j["training"]["step"], 39000);
  EXPECT_EQ(j["features"]["recipe_version"], 1);
  EXPECT_EQ(j["features"]["frame"], "plate");
  EXPECT_NEAR(j["features"]["origin"][0].get<double>(), 51.3066, 1e-4);
}

// HDF5 reports an unreadable file as "not HDF5"; info says what is wrong. Permissions do not stop
// root, so as root the command runs as `nobody` (as tests/mesh/test_cli_info.cpp does).
TEST_F(InfoH5Cli, UnreadableFileSaysPermissions) {
  const fs::path locked = dir / "locked" / "model.h5";
  fs::create_directories(locked.parent_path());
  fs::copy_file(p("model.h5"), locked);
  fs::permissions(locked, fs::perms::none);
  if (::geteuid() != 0) {
    expect_one_line_error(run("info " + locked.string()), locked.string(), "permissions");
    return;
  }
  if (std::system("su nobody -s /bin/sh -c true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "running as root and cannot switch to 'nobody'";
  fs::permissions(dir, fs::perms::all, fs::perm_options::add);
  fs::permissions(locked.parent_path(), fs::perms::all, fs::perm_options::add);
  const auto r = test::run_command("su nobody -s /bin/sh -c '" + std::string(FLARE_BINARY) +
                                       " info " + locked.string() + " 2>&1 >/dev/null'",
                                   false);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "expected one line: " << r.out;
  EXPECT_NE(r.out.find(locked.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("permissions"), std::string::npos) << r.out;
}
