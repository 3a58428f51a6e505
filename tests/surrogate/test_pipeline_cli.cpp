// dataset build → train → eval → predict through the executable: outputs, exit codes, one-line
// messages, nothing left behind on failure, Ctrl-C.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <random>
#include <sstream>

#include "mesh/grid.h"
#include "mesh/boundary.h"
#include "mesh/io.h"
#include "surrogate/dataset.h"
#include "surrogate/checkpoint.h"
#include "surrogate/ops_table.h"
#include "damage_h5.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using Result = flare::test::CommandResult;
// `args` go to the built binary; with prefix_binary = false they are the whole shell command.
Result run(const std::string& args, bool merge_stderr = true, bool prefix_binary = true) {
  return prefix_binary ? flare::test::run_cli(args, merge_stderr)
                       : flare::test::run_command(args, merge_stderr);
}
using flare::test::lines;

// One trained model shared by the tests (training is the slow part).
class PipelineCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_pipeline_cli_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
    test::write_solved_boxes(dir / "runs", 6, 3, [](int k) { return k % 2 ? "plate" : "block"; });
    const auto b = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                       " --target u --split 0.5,0.17,0.33");
    ASSERT_EQ(b.code, 0) << b.out;
    const auto t = run("train --data " + p("data.h5") + " -o " + p("model.h5") +
                       " --epochs 2 -C 16 -L 1 -H 2 -M 8 --metrics " + p("m.jsonl"));
    ASSERT_EQ(t.code, 0) << t.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }
};
fs::path PipelineCli::dir;

}  // namespace

TEST_F(PipelineCli, TrainWritesBestLastAndMetrics) {
  EXPECT_TRUE(fs::exists(p("model.h5")));
  EXPECT_TRUE(fs::exists(p("model.last.h5")));
  std::ifstream f(p("m.jsonl"));
  int n = 0;
  for (std::string line; std::getline(f, line); ++n) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  EXPECT_GE(n, 3);
}

TEST_F(PipelineCli, TrainReadsAnIniConfigAndFlagsWin) {
  {
    std::ofstream ini(p("run.ini"));
    ini << "data = " << p("data.h5") << "\noutput = " << p("ini.h5")
        << "\nepochs = 1\nchannels = 8\nblocks = 1\nheads = 2\nlatents = 4\nlr = 0.5\n";
  }
  const auto r = run("train --config " + p("run.ini") + " --lr 0.002");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto ck = surrogate::load_checkpoint(p("ini.h5"));
  EXPECT_EQ(ck.config.channel_dim, 8);
  EXPECT_EQ(ck.training.at("options").at("lr").get<double>(), 0.002);
  const auto bad = run("train --config " + p("run.ini") + " --epochs 1 --bogus 3");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.out), 1) << bad.out;
}

TEST_F(PipelineCli, TrainBadInputsExit2WithOneLineAndNoOutput) {
  auto r = run("train --data " + p("missing.h5") + " -o " + p("x.h5"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("missing.h5"), std::string::npos) << r.out;
  r = run("train --data " + p("data.h5") + " -o " + p("x.h5") + " --device tpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("cpu or cuda"), std::string::npos) << r.out;
  if (!flare::surrogate::cuda_built()) {
    r = run("train --data " + p("data.h5") + " -o " + p("x.h5") + " --device cuda");
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(lines(r.out), 1) << r.out;
    EXPECT_NE(r.out.find("built without CUDA"), std::string::npos) << r.out;
  }
  r = run("train --data " + p("data.h5") + " -o " + p("x.h5") + " --schedule sideways");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_FALSE(fs::exists(p("x.h5")));
  EXPECT_FALSE(fs::exists(p("x.last.h5")));
}

TEST_F(PipelineCli, SigintSavesLastAndExits130) {
  const std::string cmd =
      "sh -c '" + std::string(FLARE_BINARY) + " train --data " + p("data.h5") + " -o " +
      p("int.h5") + " --epochs 100000 -C 8 -L 1 -H 2 -M 4 --checkpoint-every 1 > " + p("int.log") +
      " 2>&1 & pid=$!; i=0; while [ ! -f " + p("int.last.h5") +
      " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; kill -INT $pid; wait $pid; echo $?'";
  FILE* f = popen(cmd.c_str(), "r");
  char buf[64] = {};
  fgets(buf, sizeof buf, f);
  pclose(f);
  EXPECT_EQ(std::atoi(buf), 130);
  std::ifstream log(p("int.log"));
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("--resume"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(p("int.last.h5")));
}

TEST_F(PipelineCli, EvalTableJsonCsv) {
  auto r = run("eval --model " + p("model.h5") + " --data " + p("data.h5"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rel-L2 mean"), std::string::npos) << r.out;
  r = run("eval -m " + p("model.h5") + " --data " + p("data.h5") + " --split val --json --csv " +
          p("e.csv"), false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("samples").size(), 1u);
  EXPECT_GT(j.at("summary").at("mean_rel_l2").get<double>(), 0.0);
  std::ifstream csv(p("e.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header, "sample,source,family,samples,points,rel_l2,rel_l2_u_x,rel_l2_u_y,rel_l2_u_z,mae,max_error");
  EXPECT_FALSE(row.empty());
}

// Per-sample family and component errors, and per-family rows that agree with the samples, in
// the table, the JSON and the CSV.
TEST_F(PipelineCli, EvalReportsComponentsAndFamilies) {
  auto r = run("eval -m " + p("model.h5") + " --data " + p("data.h5") + " --split train --json --csv " +
               p("f.csv"), false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("components"), (nlohmann::json{"u_x", "u_y", "u_z"}));
  std::map<std::string, std::vector<double>> by_family;
  for (const auto& s : j.at("samples")) {
    const std::string fam = s.at("family");
    EXPECT_TRUE(fam == "block" || fam == "plate") << fam;
    by_family[fam].push_back(s.at("rel_l2").get<double>());
    // u_y is zero everywhere: its "relative" error is the absolute norm; x and z are relative.
    EXPECT_GT(s.at("rel_l2_u_z").get<double>(), 0.0);
    EXPECT_GE(s.at("max_error").get<double>(), s.at("mae").get<double>());
  }
  ASSERT_EQ(j.at("families").size(), by_family.size());
  for (const auto& f : j.at("families")) {
    const auto& v = by_family.at(f.at("family").get<std::string>());
    double mean = 0;
    for (double x : v) mean += x / double(v.size());
    EXPECT_EQ(f.at("samples").get<std::size_t>(), v.size());
    EXPECT_NEAR(f.at("mean_rel_l2").get<double>(), mean, 1e-12);
    EXPECT_TRUE(f.contains("median_rel_l2_u_z")) << f.dump();
  }
  // The CSV carries the same numbers (9 significant digits).
  std::ifstream csv(p("f.csv"));
  std::string line;
  std::getline(csv, line);
  int samples = 0, family_means = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> cell;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cell.push_back(c);
    if (cell[0] == "mean" && cell[2] != "(all)") {
      ++family_means;
      for (const auto& f : j.at("families"))
        if (f.at("family") == cell[2])
          EXPECT_NEAR(std::stod(cell[5]), f.at("mean_rel_l2").get<double>(), 1e-8) << line;
    } else if (cell[0] == "mean") {
      EXPECT_NEAR(std::stod(cell[5]), j.at("summary").at("mean_rel_l2").get<double>(), 1e-8);
      EXPECT_NEAR(std::stod(cell[8]), j.at("summary").at("mean_rel_l2_u_z").get<double>(), 1e-8);
    } else if (std::isdigit(static_cast<unsigned char>(cell[0][0]))) {
      const auto& s = j.at("samples").at(samples++);
      EXPECT_EQ(cell[2], s.at("family").get<std::string>());
      EXPECT_NEAR(std::stod(cell[8]), s.at("rel_l2_u_z").get<double>(), 1e-8 * (1 + s.at("rel_l2_u_z").get<double>()));
    }
  }
  EXPECT_EQ(samples, int(j.at("samples").size()));
  EXPECT_EQ(family_means, int(j.at("families").size()));
  const auto table = run("eval -m " + p("model.h5") + " --data " + p("data.h5") + " --split train");
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("by family"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("u_z"), std::string::npos) << table.out;
}

TEST_F(PipelineCli, EvalMismatchSaysWhatDiffers) {
  std::mt19937_64 rng(9);
  fs::create_directories(dir / "other");
  for (int k = 0; k < 2; ++k) mesh::write_vtu(test::synthetic_box(rng), dir / "other" / ("o" + std::to_string(k) + ".vtu"));
  ASSERT_EQ(run("dataset build " + p("other") + " -o " + p("other.h5") + " --target f --split 1,0,0").code, 0);
  const auto r = run("eval -m " + p("model.h5") + " --data " + p("other.h5") + " --split train --csv " + p("bad.csv"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("u_0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("f"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("bad.csv")));
}

TEST_F(PipelineCli, PredictOneMeshAddsPredMagnitudeAndError) {
  const auto r = run("predict " + p("runs/box0.vtu") + " -m " + p("model.h5") + " -o " + p("pred.vtu"));
  ASSERT_EQ(r.code, 0) << r.out;
  const mesh::Mesh in = mesh::read_mesh(p("runs/box0.vtu"));
  const mesh::Mesh out = mesh::read_mesh(p("pred.vtu"));
  for (const auto& name : in.point_data.names()) EXPECT_TRUE(out.point_data.has(name)) << name;
  ASSERT_TRUE(out.point_data.has("u_pred"));
  EXPECT_EQ(out.point_data.find("u_pred")->components(), 3);
  ASSERT_TRUE(out.point_data.has("u_pred_magnitude"));
  ASSERT_TRUE(out.point_data.has("u_error"));
  const auto* pr = out.point_data.find("u_pred");
  const auto* tr = out.point_data.find("u");
  const auto* er = out.point_data.find("u_error");
  const auto* mg = out.point_data.find("u_pred_magnitude");
  EXPECT_NEAR(er->get(7, 2), pr->get(7, 2) - tr->get(7, 2), 1e-12);
  EXPECT_NEAR(mg->get(7), std::hypot(pr->get(7, 0), pr->get(7, 1), pr->get(7, 2)), 1e-9);
}

TEST_F(PipelineCli, PredictSeveralMeshesWritesADirectoryAndPvd) {
  const auto r = run("predict " + p("runs/box0.vtu") + " " + p("runs/box1.vtu") + " -m " +
                     p("model.h5") + " -o " + p("preds"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(p("preds/box0_pred.vtu")));
  EXPECT_TRUE(fs::exists(p("preds/box1_pred.vtu")));
  const auto s = mesh::read_series(p("preds/predictions.pvd"));
  EXPECT_EQ(s.meshes.size(), 2u);
  EXPECT_TRUE(s.meshes[1].point_data.has("u_pred"));
}

TEST_F(PipelineCli, PredictBadInputsExit2) {
  // A model whose recipe reads an input array the mesh lacks.
  fs::create_directories(dir / "withT");
  std::mt19937_64 rng(4);
  for (int k = 0; k < 2; ++k) {
    mesh::Mesh m = test::synthetic_box(rng);
    m.point_data.put(mesh::DataArray::from_doubles("temperature", 1, std::vector<double>(m.num_points(), 300.0 + k)));
    mesh::write_vtu(m, dir / "withT" / ("t" + std::to_string(k) + ".vtu"));
  }
  ASSERT_EQ(run("dataset build " + p("withT") + " -o " + p("t.h5") + " --target f --inputs temperature --split 1,0,0").code, 0);
  ASSERT_EQ(run("train --data " + p("t.h5") + " -o " + p("t_model.h5") + " --epochs 1 -C 8 -L 1 -H 2 -M 4").code, 0);
  auto r = run("predict " + p("runs/box0.vtu") + " -m " + p("t_model.h5") + " -o " + p("nt.vtu"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("temperature"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("nt.vtu")));
  r = run("predict " + p("runs/nothere.vtu") + " -m " + p("model.h5") + " -o " + p("nm.vtu"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("nothere.vtu"), std::string::npos) << r.out;
  r = run("predict " + p("runs/box0.vtu") + " -m " + p("data.h5") + " -o " + p("nm.vtu"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_FALSE(fs::exists(p("nm.vtu")));
}

// A part much larger and coarser than every training part: one warning line on stderr with the
// reasons, and the prediction is still written. Inside the domain, or with a checkpoint written
// before domains were recorded: no warning.
TEST_F(PipelineCli, PredictWarnsOutsideTheTrainingDomain) {
  mesh::Mesh big = mesh::hex_grid(30, 8, 6, 3.0);
  big.point_data.put(mesh::DataArray::from_doubles("u", 3, std::vector<double>(3 * big.num_points(), 0.0)));
  mesh::write_vtu(big, dir / "big.vtu");
  const auto ck = surrogate::load_checkpoint(p("model.h5"));
  ASSERT_FALSE(ck.training_domain.is_null());
  const std::string warn_cmd = "predict " + p("big.vtu") + " -m " + p("model.h5") + " -o " + p("big_pred.vtu") +
                               " 2>&1 >/dev/null";
  auto r = run(warn_cmd, false);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("warning: " + p("big.vtu") + " lies outside the training domain"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1953 nodes > 1.5 x the largest training part"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x extent 90 > 1.25 x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("voxel size) 3 outside"), std::string::npos) << r.out;
  EXPECT_TRUE(mesh::read_mesh(p("big_pred.vtu")).point_data.has("u_pred"));

  // A training part lies inside its own domain.
  const surrogate::Dataset d(p("data.h5"));
  const std::string train_part = d.sources()[d.split("train").front()];
  r = run("predict " + train_part + " -m " + p("model.h5") + " -o " + p("in_pred.vtu") + " 2>&1 >/dev/null", false);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");

  surrogate::Checkpoint old = ck;
  old.training_domain = nullptr;
  surrogate::save_checkpoint(p("old.h5"), old);
  r = run("predict " + p("big.vtu") + " -m " + p("old.h5") + " -o " + p("big_old.vtu") + " 2>&1 >/dev/null", false);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(fs::exists(p("big_old.vtu")));
}

// The boundary surface of a training part (triangles) is not what the model saw: it is voxelised
// (at a voxel size in the training range) and the voxel mesh is predicted.
TEST_F(PipelineCli, PredictVoxelizesASurfaceMeshForAVolumeModel) {
  const surrogate::Dataset d(p("data.h5"));
  const mesh::Mesh part = mesh::read_mesh(d.sources()[d.split("train").front()]);
  const mesh::BoundarySurface b = mesh::extract_boundary(part);
  mesh::Mesh surface;
  surface.points = part.points;
  for (Eigen::Index t = 0; t < b.triangles.rows(); ++t)
    surface.add_cell(mesh::CellType::Triangle, {b.triangles(t, 0), b.triangles(t, 1), b.triangles(t, 2)});
  mesh::write_vtu(surface, dir / "surface.vtu");
  const auto r = run("predict " + p("surface.vtu") + " -m " + p("model.h5") + " -o " + p("surface_pred.vtu"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("surface.vtu: voxelized at voxel "), std::string::npos) << r.out;
  const mesh::Mesh out = mesh::read_mesh(p("surface_pred.vtu"));
  EXPECT_EQ(out.dimension(), 3);
  EXPECT_TRUE(out.point_data.has("u_pred"));
}

// Without -m: $FLARE_MODEL, then <bin>/../models/, then <bin>/../share/flare-surrogate/models/
// (an installed tree from `cmake --install`), then the source tree's models/.
TEST_F(PipelineCli, PredictWithoutModelUsesTheBundledModel) {
  auto r = run("env FLARE_MODEL=" + p("model.h5") + " " + std::string(FLARE_BINARY) + " predict " +
                   p("runs/box0.vtu") + " -o " + p("env_pred.vtu"), true, false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(p("model.h5")).string()), std::string::npos) << r.out;
  EXPECT_TRUE(mesh::read_mesh(p("env_pred.vtu")).point_data.has("u_pred"));
  r = run("env FLARE_MODEL=" + p("nothere.h5") + " " + std::string(FLARE_BINARY) + " predict " +
              p("runs/box0.vtu") + " -o " + p("nm.vtu"), true, false);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("FLARE_MODEL=" + p("nothere.h5")), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("nm.vtu")));

  const fs::path prefix = dir / "prefix";
  const auto inst = run(std::string(FLARE_CMAKE_COMMAND) + " --install " + FLARE_BUILD_DIR + " --prefix " +
                            prefix.string(), true, false);
  ASSERT_EQ(inst.code, 0) << inst.out;
  const std::string bin = (prefix / "bin" / "flare-surrogate").string();
  ASSERT_TRUE(fs::exists(bin));
  const fs::path share = prefix / "share" / "flare-surrogate" / "models" / "lpbf-default.h5";
  const fs::path beside = prefix / "models" / "lpbf-default.h5";
  fs::create_directories(share.parent_path());
  fs::create_directories(beside.parent_path());
  // Every bundled model is installed, and `-m NAME` finds one by its file name from anywhere;
  // a name with a folder is taken as it is.
  EXPECT_EQ(fs::exists(share.parent_path() / "lpbf-v2-geometry.h5"),
            fs::exists(fs::path(FLARE_SOURCE_DIR) / "models" / "lpbf-v2-geometry.h5"));
  fs::copy_file(p("model.h5"), share.parent_path() / "mine.h5");
  r = run("cd / && " + bin + " predict " + p("runs/box0.vtu") + " -m mine.h5 -o " + p("mine.vtu"), true, false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(share.parent_path() / "mine.h5").string()),
            std::string::npos) << r.out;
  r = run("cd / && " + bin + " eval -m mine.h5 " + p("runs/box0.vtu"), true, false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(share.parent_path() / "mine.h5").string()),
            std::string::npos) << r.out;
  r = run("cd / && " + bin + " predict " + p("runs/box0.vtu") + " -m ./mine.h5 -o " + p("mine2.vtu"), true, false);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("./mine.h5"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("mine2.vtu")));
  fs::copy_file(p("model.h5"), share, fs::copy_options::overwrite_existing);
  fs::copy_file(p("model.h5"), beside);
  const std::string predict = "env -u FLARE_MODEL " + bin + " predict " + p("runs/box0.vtu") + " -o " + p("b.vtu");
  r = run(predict, true, false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(beside).string()), std::string::npos) << r.out;
  r = run("env FLARE_MODEL=" + p("model.h5") + " " + bin + " predict " + p("runs/box0.vtu") + " -o " + p("b.vtu"), true, false);
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(p("model.h5")).string()), std::string::npos) << r.out;
  fs::remove(beside);
  r = run(predict, true, false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("using bundled model " + fs::canonical(share).string()), std::string::npos) << r.out;
  fs::remove(share);
  r = run(predict, true, false);
  const fs::path source_model = fs::path(FLARE_SOURCE_DIR) / "models" / "lpbf-default.h5";
  if (fs::exists(source_model)) {
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("using bundled model " + fs::canonical(source_model).string()), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(lines(r.out), 1) << r.out;
    EXPECT_NE(r.out.find("pass -m model.h5"), std::string::npos) << r.out;
  }
}

// Solved meshes give the same per-sample numbers as the dataset built from them (the checkpoint's
// recipe is the dataset's here), with families read from the meshes.
TEST_F(PipelineCli, EvalOnSolvedMeshesMatchesTheDataset) {
  const auto d = run("eval -m " + p("model.h5") + " --data " + p("data.h5") + " --split train --json", false);
  ASSERT_EQ(d.code, 0) << d.out;
  const auto dj = nlohmann::json::parse(d.out);
  std::string meshes;
  for (const auto& s : dj.at("samples")) meshes += " " + p("runs/" + s.at("source").get<std::string>());
  const auto m = run("eval -m " + p("model.h5") + meshes + " --json", false);
  ASSERT_EQ(m.code, 0) << m.out;
  const auto mj = nlohmann::json::parse(m.out);
  ASSERT_EQ(mj.at("samples").size(), dj.at("samples").size());
  for (std::size_t i = 0; i < mj.at("samples").size(); ++i) {
    const auto &a = mj["samples"][i], &b = dj["samples"][i];
    EXPECT_EQ(a.at("source"), b.at("source"));
    EXPECT_EQ(a.at("family"), b.at("family"));
    // Features are recomputed from the mesh in double and stored in the dataset as float.
    EXPECT_NEAR(a.at("rel_l2").get<double>(), b.at("rel_l2").get<double>(), 1e-5) << a.dump();
  }
  EXPECT_EQ(mj.at("families").size(), dj.at("families").size());
}

TEST_F(PipelineCli, EvalBadInputsExit2) {
  // Neither or both sources; a mesh without the truth.
  auto r = run("eval -m " + p("model.h5"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--data"), std::string::npos) << r.out;
  r = run("eval -m " + p("model.h5") + " --data " + p("data.h5") + " " + p("runs/box0.vtu"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("both"), std::string::npos) << r.out;
  std::mt19937_64 rng(5);
  mesh::write_vtu(test::synthetic_box(rng), dir / "unsolved.vtu");
  r = run("eval -m " + p("model.h5") + " " + p("unsolved.vtu") + " --csv " + p("u.csv"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("unsolved.vtu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'u'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("u.csv")));
}

// A dataset whose training split fixed another coordinate normalisation would feed the model
// features it never saw: refused, pointing at mesh evaluation.
TEST_F(PipelineCli, EvalRefusesADatasetNormalisedDifferently) {
  const auto b = run("dataset build " + p("runs/box0.vtu") + " " + p("runs/box3.vtu") + " -o " +
                     p("renorm.h5") + " --target u --split 0.5,0.5,0");
  ASSERT_EQ(b.code, 0) << b.out;
  const auto r = run("eval -m " + p("model.h5") + " --data " + p("renorm.h5") + " --split train");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("normalises its features differently"), std::string::npos) << r.out;
}

// A NaN in one sample of a dataset file is named (file, sample index and source, column) by the
// readers of sample rows, instead of nan rows and a nan mean.
TEST_F(PipelineCli, NonFiniteSampleIsNamedByEvalAndTrain) {
  fs::copy_file(p("data.h5"), p("nan.h5"), fs::copy_options::overwrite_existing);
  std::int64_t test_sample = 0, train_sample = 0;
  std::string test_source, train_source, column;
  {
    const surrogate::Dataset d(p("nan.h5"));
    test_sample = d.split("test").at(0);
    train_sample = d.split("train").at(0);
    test_source = d.sources()[test_sample];
    train_source = d.sources()[train_sample];
    column = d.feature_names()[2];
  }
  test::poke_sample_value(p("nan.h5"), "features", test_sample, 3, 2, std::nanf(""));
  test::poke_sample_value(p("nan.h5"), "features", train_sample, 5, 2, std::nanf(""));
  const std::string named = ": sample " + std::to_string(test_sample) + " (" + test_source +
                            ") has a non-finite feature: column '" + column + "' is nan at point 3";
  auto e = run("eval -m " + p("model.h5") + " --data " + p("nan.h5") + " --csv " + p("nan.csv"));
  EXPECT_EQ(e.code, 2) << e.out;
  EXPECT_EQ(lines(e.out), 1) << e.out;
  EXPECT_NE(e.out.find(p("nan.h5") + named), std::string::npos) << e.out;
  EXPECT_FALSE(fs::exists(p("nan.csv")));
  auto t = run("train --data " + p("nan.h5") + " -o " + p("nan_model.h5") + " --epochs 1 -C 8 -L 1 -H 2 -M 4");
  EXPECT_EQ(t.code, 2) << t.out;
  EXPECT_EQ(lines(t.out), 1) << t.out;
  EXPECT_NE(t.out.find(": sample " + std::to_string(train_sample) + " (" + train_source + ")"),
            std::string::npos) << t.out;
  EXPECT_NE(t.out.find("column '" + column + "' is nan at point 5"), std::string::npos) << t.out;
  EXPECT_FALSE(fs::exists(p("nan_model.h5")));
}

// Statistics that are not finite and positive would turn every feature into inf or NaN: every
// reader refuses the file with one line, whether it is a dataset or a checkpoint.
TEST_F(PipelineCli, CorruptStatisticsAreRefusedByEveryReader) {
  fs::copy_file(p("data.h5"), p("zero_std.h5"), fs::copy_options::overwrite_existing);
  const std::int64_t F = surrogate::Dataset(p("zero_std.h5")).num_features();
  test::overwrite_stats(p("zero_std.h5"), "feature_std", std::vector<double>(std::size_t(F), 0.0));
  for (const std::string cmd :
       {"eval -m " + p("model.h5") + " --data " + p("zero_std.h5"),
        "train --data " + p("zero_std.h5") + " -o " + p("zero_model.h5") + " --epochs 1 -C 8 -L 1 -H 2 -M 4",
        "info " + p("zero_std.h5")}) {
    const auto r = run(cmd);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_EQ(lines(r.out), 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find(p("zero_std.h5") + ": corrupt statistics: the feature standard deviation"),
              std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_FALSE(fs::exists(p("zero_model.h5")));

  surrogate::Checkpoint ck = surrogate::load_checkpoint(p("model.h5"));
  ck.normalizer["target_std"][0] = 0.0;
  surrogate::save_checkpoint(p("zero_std_model.h5"), ck);
  for (const std::string cmd :
       {"predict -m " + p("zero_std_model.h5") + " " + p("runs/box0.vtu") + " -o " + p("z.vtu"),
        "eval -m " + p("zero_std_model.h5") + " " + p("runs/box0.vtu"),
        "eval -m " + p("zero_std_model.h5") + " --data " + p("data.h5"),
        "info " + p("zero_std_model.h5")}) {
    const auto r = run(cmd);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_EQ(lines(r.out), 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find(p("zero_std_model.h5") + ": corrupt statistics: the target standard "
                                                 "deviation of column 'u_0' is 0"),
              std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_FALSE(fs::exists(p("z.vtu")));
}

// predict (and eval on meshes) compute features themselves: one that float32 cannot hold is named.
TEST_F(PipelineCli, PredictNamesANonFiniteFeature) {
  mesh::Mesh m = mesh::read_mesh(p("runs/box0.vtu"));
  m.points(1, 0) = 1e40;  // finite as a double; in the part frame (recipe 2) it drags the box centre out, so
  // every other point's coordinate is -inf once normalised and stored as float
  mesh::write_vtu(m, dir / "far.vtu");
  for (const std::string cmd : {"predict -m " + p("model.h5") + " " + p("far.vtu") + " -o " + p("far_pred.vtu"),
                                "eval -m " + p("model.h5") + " " + p("far.vtu")}) {
    const auto r = run(cmd);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_EQ(lines(r.out), 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("far.vtu: non-finite feature column 'coord_x' is -inf at point 0"),
              std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_FALSE(fs::exists(p("far_pred.vtu")));
}

// The default recipe (version 2) through the executable: a part moved on the plate gets the same
// predicted field from `predict`, because the frame is computed per mesh.
TEST_F(PipelineCli, PredictDoesNotDependOnWhereThePartSits) {
  mesh::Mesh moved = mesh::read_mesh(p("runs/box2.vtu"));
  moved.points.col(0).array() += 40.0;
  moved.points.col(1).array() += 25.0;
  mesh::write_vtu(moved, p("moved.vtu"));
  ASSERT_EQ(run("predict " + p("runs/box2.vtu") + " -m " + p("model.h5") + " -o " + p("here.vtu")).code, 0);
  ASSERT_EQ(run("predict " + p("moved.vtu") + " -m " + p("model.h5") + " -o " + p("there.vtu")).code, 0);
  const auto* a = mesh::read_mesh(p("here.vtu")).point_data.find("u_pred");
  const mesh::Mesh there = mesh::read_mesh(p("there.vtu"));
  const auto* b = there.point_data.find("u_pred");
  ASSERT_TRUE(a && b);
  double diff = 0, norm = 0;
  for (std::int64_t i = 0; i < a->tuples(); ++i)
    for (int c = 0; c < 3; ++c) {
      diff += std::pow(a->get(i, c) - b->get(i, c), 2);
      norm += std::pow(a->get(i, c), 2);
    }
  EXPECT_LT(std::sqrt(diff / norm), 1e-6);
}

TEST_F(PipelineCli, TrainAugmentNeedsRecipeVersion2) {
  ASSERT_EQ(run("dataset build " + p("runs") + " -o " + p("v1.h5") +
                " --target u --split 0.5,0.17,0.33 --recipe-version 1").code, 0);
  auto r = run("train --data " + p("v1.h5") + " -o " + p("aug1.h5") + " --epochs 1 -C 8 -L 1 -H 2 -M 4 --augment");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("version 1"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("aug1.h5")));
  r = run("train --data " + p("data.h5") + " -o " + p("aug2.h5") + " --epochs 1 -C 8 -L 1 -H 2 -M 4 --augment");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("info " + p("aug2.h5"));
  EXPECT_NE(r.out.find("augment true"), std::string::npos) << r.out;
}
