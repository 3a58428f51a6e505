// `flare-surrogate dataset build` end to end on .vtu files: exit codes, messages, --skip-bad.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args) { return flare::test::run_cli(args); }

mesh::Mesh solved(int n, double shift) {
  mesh::Mesh m = mesh::hex_grid(n, n, n, 0.5);
  std::vector<double> u;
  for (std::int64_t i = 0; i < m.num_points(); ++i)
    u.insert(u.end(), {shift + m.points(i, 0), 0.0, 0.1 * m.points(i, 2)});
  m.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  return m;
}

class DatasetCli : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("flare_test_dataset_cli_" + std::to_string(getpid()) + "_" + std::string(
               ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
    for (int k = 0; k < 4; ++k)
      mesh::write_vtu(solved(2 + k % 2, k), dir / "runs" / ("part" + std::to_string(k) + ".vtu"));
    mesh::Mesh bad = solved(2, 0);
    bad.point_data.find("displacement")->set(3, 0, std::nan(""));
    mesh::write_vtu(bad, dir / "bad_nan.vtu");
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string p(const std::string& rel) const { return (dir / rel).string(); }
};

}  // namespace

TEST_F(DatasetCli, GoodInputsSucceed) {
  const auto r = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                     " --target displacement --split 0.5,0.25,0.25 --seed 3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("4 samples (train 2, val 1, test 1)"), std::string::npos) << r.out;
  const surrogate::Dataset d(p("data.h5"));
  EXPECT_EQ(d.num_samples(), 4);
  EXPECT_EQ(d.num_targets(), 3);
  EXPECT_EQ(d.num_features(), 7);  // recipe version 2: coords (z is the height), distance, normal
  EXPECT_EQ(d.recipe().version, 2);

  const auto v1 = run("dataset build " + p("runs") + " -o " + p("v1.h5") +
                      " --target displacement --recipe-version 1");
  ASSERT_EQ(v1.code, 0) << v1.out;
  EXPECT_EQ(surrogate::Dataset(p("v1.h5")).recipe().version, 1);
  EXPECT_EQ(surrogate::Dataset(p("v1.h5")).num_features(), 8);  // + height
  const auto v3 = run("dataset build " + p("runs") + " -o " + p("v3.h5") +
                      " --target displacement --recipe-version 3");
  EXPECT_EQ(v3.code, 2) << v3.out;
  EXPECT_NE(v3.out.find("--recipe-version: 3"), std::string::npos) << v3.out;
}

// --recipe-from a bundled model: its recipe as it is (its length scale, not these parts'); a
// --recipe-version that contradicts it, or a file that is no checkpoint, exits 2 naming it.
TEST_F(DatasetCli, RecipeFromACheckpointKeepsItsRecipe) {
  const std::string model = std::string(FLARE_SOURCE_DIR) + "/models/lpbf-v2-geometry.h5";
  const auto r = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                     " --target displacement --recipe-from " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto c = surrogate::load_checkpoint(model);
  EXPECT_EQ(surrogate::Dataset(p("data.h5")).recipe().to_json(), c.feature_recipe);

  // The default model reads the parts' coarse solve: without --inputs its arrays are read, and
  // parts made without --coarse-field are refused with the fix.
  const std::string coarse = std::string(FLARE_SOURCE_DIR) + "/models/lpbf-default.h5";
  const auto plain = run("dataset build " + p("runs") + " -o " + p("plain.h5") +
                         " --target displacement --recipe-from " + coarse);
  EXPECT_EQ(plain.code, 2) << plain.out;
  EXPECT_NE(plain.out.find("displacement_coarse"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("--coarse-field"), std::string::npos) << plain.out;
  EXPECT_FALSE(fs::exists(p("plain.h5")));
  fs::create_directories(dir / "runs_c");
  for (int k = 0; k < 4; ++k) {
    const std::string name = "part" + std::to_string(k) + ".vtu";
    mesh::Mesh m = mesh::read_mesh(dir / "runs" / name);
    mesh::DataArray u = *m.point_data.find("displacement");
    u.set_name("displacement_coarse");
    m.point_data.put(std::move(u));
    mesh::write_vtu(m, dir / "runs_c" / name);
  }
  const auto with = run("dataset build " + p("runs_c") + " -o " + p("coarse.h5") +
                        " --target displacement --recipe-from " + coarse);
  ASSERT_EQ(with.code, 0) << with.out;
  EXPECT_EQ(surrogate::Dataset(p("coarse.h5")).recipe().to_json(),
            surrogate::load_checkpoint(coarse).feature_recipe);
  EXPECT_EQ(surrogate::Dataset(p("coarse.h5")).num_features(), 10);

  const auto v1 = run("dataset build " + p("runs") + " -o " + p("v1.h5") +
                      " --target displacement --recipe-version 1 --recipe-from " + model);
  EXPECT_EQ(v1.code, 2) << v1.out;
  EXPECT_NE(v1.out.find("contradicts --recipe-from " + model), std::string::npos) << v1.out;
  EXPECT_FALSE(fs::exists(p("v1.h5")));
  const auto bad = run("dataset build " + p("runs") + " -o " + p("bad.h5") +
                       " --target displacement --recipe-from " + p("runs/part0.vtu"));
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("part0.vtu"), std::string::npos) << bad.out;
}

TEST_F(DatasetCli, BadInputExits2NamingTheFile) {
  const auto r = run("dataset build " + p("runs/part0.vtu") + " " + p("bad_nan.vtu") + " -o " +
                     p("data.h5") + " --target displacement");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("bad_nan.vtu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("target column 'displacement_0' has a non-finite value (nan) at point 3"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  EXPECT_FALSE(fs::exists(p("data.h5")));

  const auto missing = run("dataset build " + p("runs/part0.vtu") + " -o " + p("data.h5") +
                           " --target stress");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("part0.vtu"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("'stress'"), std::string::npos) << missing.out;

  const auto split = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                         " --target displacement --split 0.8,0.1");
  EXPECT_EQ(split.code, 2) << split.out;
}

TEST_F(DatasetCli, SkipBadContinuesAndReports) {
  const auto r = run("dataset build " + p("runs") + " " + p("bad_nan.vtu") + " " +
                     p("absent.vtu") + " -o " + p("data.h5") + " --target displacement --skip-bad");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped 2 of 6 inputs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad_nan.vtu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("absent.vtu"), std::string::npos) << r.out;
  EXPECT_EQ(surrogate::Dataset(p("data.h5")).num_samples(), 4);
}

TEST_F(DatasetCli, SplitManifestKeepsTheGeneratorsSplitAndFamilies) {
  // Ten parts: `am dataset` puts exactly 8 in train, 1 in val, 1 in test.
  const auto gen = run("am dataset --count 10 --out " + p("lpbf") +
                       " --nodes 200..600 --jobs 2 --layers 2 --families wall,tube --seed 5");
  ASSERT_EQ(gen.code, 0) << gen.out;
  const auto r = run("dataset build " + p("lpbf") + " -o " + p("lpbf.h5") +
                     " --target displacement --split manifest");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(train 8, val 1, test 1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("split from the manifests"), std::string::npos) << r.out;

  std::ifstream f(p("lpbf/manifest.json"));
  const auto manifest = nlohmann::json::parse(f);
  std::map<std::string, std::pair<std::string, std::string>> want;  // file -> split, family
  for (const auto& s : manifest.at("samples"))
    want[s.at("file").get<std::string>()] = {s.at("split"), s.at("family")};
  const surrogate::Dataset d(p("lpbf.h5"));
  ASSERT_EQ(d.num_samples(), 10);
  for (const std::string split : {"train", "val", "test"})
    for (std::int64_t s : d.split(split)) {
      const std::string file = fs::path(d.sources()[s]).filename().string();
      EXPECT_EQ(want.at(file).first, split) << file;
      EXPECT_EQ(d.families()[s], want.at(file).second) << file;
      EXPECT_TRUE(d.families()[s] == "wall" || d.families()[s] == "tube") << d.families()[s];
    }
  EXPECT_FALSE(d.training_domain().is_null());

  // An input the manifest does not list is refused, naming it.
  fs::copy_file(p("lpbf/sample_00000.vtu"), p("lpbf/extra.vtu"));
  const auto extra = run("dataset build " + p("lpbf") + " -o " + p("x.h5") +
                         " --target displacement --split manifest");
  EXPECT_EQ(extra.code, 2) << extra.out;
  EXPECT_NE(extra.out.find("extra.vtu: not listed in"), std::string::npos) << extra.out;
  EXPECT_EQ(std::count(extra.out.begin(), extra.out.end(), '\n'), 1) << extra.out;
  EXPECT_FALSE(fs::exists(p("x.h5")));
  // Inputs without any manifest next to them.
  const auto none = run("dataset build " + p("runs") + " -o " + p("x.h5") +
                        " --target displacement --split manifest");
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_NE(none.out.find("manifest.json: no manifest here"), std::string::npos) << none.out;
}
