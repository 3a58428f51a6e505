// Invariances of the features and the surrogate (lpbf.md "Invariances"), and the promise that
// makes changing the feature recipe safe: the bundled version-1 checkpoints predict bit for bit
// what they predicted before recipe version 2 existed.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <sstream>
#include <unistd.h>

#include "common/error.h"
#include "mesh/features.h"
#include "mesh/grid.h"
#include "mesh/io.h"
#include "model_fixtures.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/predictor.h"
#include "tests/support/errors.h"

using namespace flare;
using flare::test::input_error;
namespace fs = std::filesystem;

namespace {

fs::path source(const std::string& rel) { return fs::path(FLARE_SOURCE_DIR) / rel; }

// FNV-1a over the raw bytes of a float matrix: equal hashes mean bitwise-equal matrices (a 64-bit
// collision between two nearby predictions is not a realistic risk).
std::string fnv1a(const mesh::FeatureMatrix& m) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(m.data());
  for (std::size_t i = 0; i < std::size_t(m.size()) * sizeof(float); ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  std::ostringstream s;
  s << std::hex << h;
  return s.str();
}

// An L-shaped voxel part with a step and a hole, no symmetry of the square, voxel size 0.37 mm
// (not a power of two, so coordinates round), standing on the plate at (x0, y0), with a
// displacement field that differs along x and y.
bool l_mask(int i, int j, int k) {
  if (j >= 2 && i >= 3 && k >= 1) return false;  // the L
  if (i == 1 && j == 1) return false;            // a hole through the part
  return k < 4 || i < 2;                         // a tower on one end
}
constexpr int kNx = 9, kNy = 6, kNz = 5;
constexpr double kVoxel = 0.37;

mesh::Mesh l_part(double x0, double y0) {
  mesh::Mesh m = mesh::hex_grid(kNx, kNy, kNz, kVoxel, l_mask);
  m.points.col(0).array() += x0;
  m.points.col(1).array() += y0;
  std::vector<double> u;
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    const double x = m.points(i, 0) - x0, y = m.points(i, 1) - y0, z = m.points(i, 2);
    u.insert(u.end(), {0.01 * x * z + 0.002, -0.03 * y + 0.004 * x * x, -0.02 * z * z});
  }
  m.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  std::vector<double> vm(m.num_points());
  for (std::int64_t i = 0; i < m.num_points(); ++i) vm[i] = 100 + m.points(i, 2);
  m.point_data.put(mesh::DataArray::from_doubles("von_mises", 1, vm));
  return m;
}

struct ScratchDir {
  fs::path path;
  ScratchDir() {
    path = fs::temp_directory_path() /
           ("flare_test_invariance_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

// A checkpoint of a small FLARE model with non-trivial random weights on a dataset of L parts
// built with `recipe_version` (the weights are not trained: invariance is a property of the
// features, whatever the weights).
fs::path small_model(const fs::path& dir, int recipe_version) {
  std::map<std::string, mesh::Mesh> parts;
  surrogate::DatasetBuildOptions o;
  for (int k = 0; k < 3; ++k) {
    const std::string name = (dir / ("part" + std::to_string(k) + ".vtu")).string();
    parts[name] = l_part(10.0 * k, -5.0 * k);
    o.inputs.push_back(name);
  }
  o.output = dir / ("data_v" + std::to_string(recipe_version) + ".h5");
  o.targets = {"displacement"};
  o.split = {1.0, 0.0, 0.0};
  o.recipe_version = recipe_version;
  surrogate::build_dataset(o, [&](const fs::path& p) { return parts.at(p.string()); });
  const surrogate::Dataset d(o.output);
  surrogate::Checkpoint c;
  c.config = surrogate::test_util::tiny_config(0);
  c.config.in_dim = int(d.num_features());
  c.config.out_dim = int(d.num_targets());
  c.params = surrogate::test_util::test_params<float>(surrogate::ParamLayout(c.config), 11);
  c.normalizer = surrogate::Normalizer::from_dataset(d).to_json();
  c.feature_recipe = d.recipe().to_json();
  const fs::path out = dir / ("model_v" + std::to_string(recipe_version) + ".h5");
  surrogate::save_checkpoint(out, c);
  return out;
}

double rel_l2(const mesh::FeatureMatrix& a, const mesh::FeatureMatrix& b) {
  return double((a - b).norm() / b.norm());
}

}  // namespace

// The golden file was written by this test (FLARE_WRITE_GOLDEN=1) from the code before recipe
// version 2: the features of the version-1 recipe and both bundled models' predictions on the
// cantilever example. Predictions are compared on one OpenMP thread, because the CPU model's
// reductions depend on the thread count; features do not.
TEST(BundledV1, PredictionsAreBitwiseThoseBeforeRecipeVersion2) {
  omp_set_num_threads(1);
  const fs::path golden_path = source("tests/data/bundled_v1_cantilever.json");
  const mesh::Mesh part = mesh::read_mesh(source("examples/lpbf/cantilever.vtu"));
  nlohmann::json now;
  now["points"] = part.num_points();
  for (const char* name : {"lpbf-default.h5", "lpbf-baseline-mlp.h5"}) {
    surrogate::Predictor p(source(std::string("models/") + name));
    ASSERT_EQ(p.recipe().version, 1) << name;
    const mesh::FeatureMatrix x = mesh::compute_features(part, p.recipe());
    const mesh::FeatureMatrix y = p.infer(part, "cantilever.vtu");
    now["features"] = fnv1a(x);
    now["models"][name] = {{"prediction", fnv1a(y)},
                           {"first_point", {y(0, 0), y(0, 1), y(0, 2)}}};
  }
  if (const char* w = std::getenv("FLARE_WRITE_GOLDEN"); w && std::string(w) == "1") {
    std::ofstream(golden_path) << now.dump(2) << "\n";
    GTEST_SKIP() << "wrote " << golden_path;
  }
  std::ifstream in(golden_path);
  ASSERT_TRUE(in.good()) << golden_path;
  const nlohmann::json golden = nlohmann::json::parse(in);
  EXPECT_EQ(now["points"], golden["points"]);
  EXPECT_EQ(now["features"], golden["features"]) << "the version-1 features changed";
  for (const auto& [name, g] : golden["models"].items())
    EXPECT_EQ(now["models"][name], g) << name << ": its predictions changed";
}

// A part moved on the plate by (40, 25) mm gets the same prediction from a recipe-2 model (the
// frame is computed per mesh in predict); the recipe-1 model of the same data does not.
TEST(PartFrame, MovedPartGetsTheSamePrediction) {
  ScratchDir dir;
  const mesh::Mesh here = l_part(3.7, -2.2);
  mesh::Mesh there = here;
  there.points.col(0).array() += 40.0;
  there.points.col(1).array() += 25.0;

  surrogate::Predictor v2(small_model(dir.path, 2));
  ASSERT_EQ(v2.recipe().version, 2);
  const mesh::FeatureMatrix a = v2.infer(here, "here.vtu"), b = v2.infer(there, "there.vtu");
  EXPECT_LT(rel_l2(b, a), 1e-6);
  std::vector<std::string> names;
  const auto fa = mesh::compute_features(here, v2.recipe(), &names);
  const auto fb = mesh::compute_features(there, v2.recipe());
  EXPECT_LT((fa - fb).cwiseAbs().maxCoeff(), 1e-6f);

  surrogate::Predictor v1(small_model(dir.path, 1));
  EXPECT_GT(rel_l2(v1.infer(there, "there.vtu"), v1.infer(here, "here.vtu")), 1e-3)
      << "recipe version 1 sees plate positions: if it did not, this test could not fail";
}

