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
#include <set>
#include <sstream>
#include <unistd.h>

#include "common/error.h"
#include "mesh/features.h"
#include "mesh/grid.h"
#include "mesh/io.h"
#include "model_fixtures.h"
#include "surrogate/augment.h"
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

// Element g of D4 as an integer matrix, written out independently of PlaneTransform: mirror
// x -> -x when g >= 4, then rotate by (g mod 4) quarter turns counter-clockwise.
Eigen::Matrix2d d4_matrix(int g) {
  Eigen::Matrix2d quarter, r = Eigen::Matrix2d::Identity();
  quarter << 0, -1, 1, 0;
  for (int k = 0; k < g % 4; ++k) r = quarter * r;
  Eigen::Matrix2d mirror = Eigen::Matrix2d::Identity();
  if (g >= 4) mirror(0, 0) = -1;
  return r * mirror;
}

// `m` turned by g: points and every 3-vector point array (x, y) multiplied by d4_matrix(g).
mesh::Mesh turned(const mesh::Mesh& m, int g) {
  const Eigen::Matrix2d r = d4_matrix(g);
  mesh::Mesh out = m;
  for (std::int64_t i = 0; i < m.num_points(); ++i)
    out.points.row(i).head<2>() = (r * m.points.row(i).head<2>().transpose()).transpose();
  const mesh::DataArray& u = *m.point_data.find("displacement");
  std::vector<double> v;
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    const Eigen::Vector2d xy = r * Eigen::Vector2d(u.get(i, 0), u.get(i, 1));
    v.insert(v.end(), {xy.x(), xy.y(), u.get(i, 2)});
  }
  out.point_data.put(mesh::DataArray::from_doubles("displacement", 3, v));
  return out;
}

// The L part voxelised afresh in pose g, as `am voxelize` would give it for a turned STL: the
// turned mask on its own grid, cells and points numbered x fastest in that grid, so the numbering
// differs from the original's (unlike turned(), which keeps it).
mesh::Mesh l_part_voxelized_turned(int g) {
  const Eigen::Matrix2d r = d4_matrix(g);
  const bool swap = g % 2 == 1;
  const int nx = swap ? kNy : kNx, ny = swap ? kNx : kNy;
  std::set<std::array<int, 3>> kept;
  for (int k = 0; k < kNz; ++k)
    for (int j = 0; j < kNy; ++j)
      for (int i = 0; i < kNx; ++i)
        if (l_mask(i, j, k)) {  // cell centre about the grid centre, turned, back to indices
          const Eigen::Vector2d c = r * Eigen::Vector2d(i + 0.5 - kNx / 2.0, j + 0.5 - kNy / 2.0);
          kept.insert({int(std::lround(c.x() + nx / 2.0 - 0.5)),
                        int(std::lround(c.y() + ny / 2.0 - 0.5)), k});
        }
  return mesh::hex_grid(nx, ny, kNz, kVoxel,
                        [&](int i, int j, int k) { return kept.count({i, j, k}) > 0; });
}

// A normaliser with the identity statistics (mean 0, std 1: symmetric) for `recipe` on `m`.
surrogate::Normalizer identity_normalizer(const mesh::FeatureRecipe& recipe, const mesh::Mesh& m) {
  surrogate::Normalizer n;
  n.feature_names = recipe.column_names(m);
  n.feature_mean.assign(n.feature_names.size(), 0.0);
  n.feature_std.assign(n.feature_names.size(), 1.0);
  n.target_arrays = {"von_mises", "displacement"};
  n.target_components = {1, 3};
  n.target_names = {"von_mises", "displacement_0", "displacement_1", "displacement_2"};
  n.target_mean.assign(4, 0.0);
  n.target_std.assign(4, 1.0);
  return n;
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
  for (const char* name : {"lpbf-v1-10groups.h5", "lpbf-v1-10groups-mlp.h5"}) {
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

TEST(PlaneTransform, IsTheDihedralGroupOfTheSquare) {
  std::set<std::array<float, 4>> seen;
  for (int g = 0; g < 8; ++g) {
    const auto t = surrogate::PlaneTransform::element(g);
    for (const Eigen::Vector2d& e : {Eigen::Vector2d(1, 0), Eigen::Vector2d(0, 1)}) {
      double u = e.x(), v = e.y();
      t.apply(u, v);
      EXPECT_EQ(Eigen::Vector2d(u, v), d4_matrix(g) * e) << "element " << g;
    }
    float u = 1, v = 2;
    t.apply(u, v);
    float p = 3, q = 4;
    t.apply(p, q);
    seen.insert({u, v, p, q});
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_THROW(surrogate::PlaneTransform::element(8), Error);
}

TEST(PlaneAugmenter, DrawIsAPureUniformFunctionOfSeedEpochAndSample) {
  std::array<int, 8> count{};
  for (std::int64_t s = 0; s < 8000; ++s) ++count[surrogate::PlaneAugmenter::draw(5, 3, s)];
  for (int c : count) EXPECT_NEAR(c, 1000, 150);
  int differ_seed = 0, differ_epoch = 0;
  for (std::int64_t s = 0; s < 100; ++s) {
    const int g = surrogate::PlaneAugmenter::draw(5, 3, s);
    EXPECT_EQ(g, surrogate::PlaneAugmenter::draw(5, 3, s));
    differ_seed += g != surrogate::PlaneAugmenter::draw(6, 3, s);
    differ_epoch += g != surrogate::PlaneAugmenter::draw(5, 4, s);
  }
  EXPECT_GT(differ_seed, 70);  // 7/8 expected
  EXPECT_GT(differ_epoch, 70);
}

// The features of the turned voxel part are the augmented features of the original, for all 8
// poses; the targets turn with it (the 3-vector), the scalar does not. This is what makes the
// augmentation show the model parts it could really be given.
TEST(PlaneAugmenter, AugmentedFeaturesAreThoseOfTheTurnedPart) {
  const mesh::Mesh part = l_part(12.3, -4.1);
  mesh::FeatureRecipe recipe = mesh::FeatureRecipe::default_recipe();
  recipe.length_scale = 7.3;
  const surrogate::Normalizer norm = identity_normalizer(recipe, part);
  const surrogate::PlaneAugmenter aug(recipe, norm, "test");
  const std::vector<std::string> arrays = {"von_mises", "displacement"};
  const mesh::FeatureMatrix x = mesh::compute_features(part, recipe);
  const mesh::FeatureMatrix y = surrogate::target_rows(part, arrays);
  for (int g = 0; g < 8; ++g) {
    const mesh::Mesh t = turned(part, g);
    mesh::FeatureMatrix xa = x, ya = y;
    aug.apply(g, xa, ya, 0, xa.rows());
    const mesh::FeatureMatrix xt = mesh::compute_features(t, recipe);
    EXPECT_EQ(xa, xt) << "element " << g << ": max difference "
                      << (xa - xt).cwiseAbs().maxCoeff();
    EXPECT_EQ(ya, surrogate::target_rows(t, arrays)) << "element " << g;
    if (g > 0) EXPECT_NE(xa, x) << "element " << g << " changed nothing";
  }
  // Only the rows asked for are touched.
  mesh::FeatureMatrix xa = x, ya = y;
  aug.apply(1, xa, ya, 5, 9);
  EXPECT_EQ(xa.topRows(5), x.topRows(5));
  EXPECT_EQ(xa.bottomRows(x.rows() - 9), x.bottomRows(x.rows() - 9));
  EXPECT_NE(xa.middleRows(5, 4), x.middleRows(5, 4));
}

// The same for a part voxelised in the turned pose, numbered its own way (what a user's turned
// STL gives): where faces tie (edges, corners, points equally far from two walls) the normal is a
// function of the faces, not of their numbering, so the features still turn with the part.
TEST(PlaneAugmenter, AFreshlyVoxelisedTurnedPartHasTheTurnedFeatures) {
  const mesh::Mesh part = l_part(0, 0);
  mesh::FeatureRecipe recipe = mesh::FeatureRecipe::default_recipe();
  recipe.length_scale = 7.3;
  const surrogate::PlaneAugmenter aug(recipe, identity_normalizer(recipe, part), "test");
  const mesh::FeatureMatrix x = mesh::compute_features(part, recipe);
  const Eigen::Vector3d o = mesh::part_frame_origin(part.points);
  for (int g = 1; g < 8; ++g) {
    const mesh::Mesh t = l_part_voxelized_turned(g);
    ASSERT_EQ(t.num_points(), part.num_points());
    const mesh::FeatureMatrix xt = mesh::compute_features(t, recipe);
    const Eigen::Vector3d ot = mesh::part_frame_origin(t.points);
    std::map<std::array<long, 3>, Eigen::Index> row_of;  // the turned mesh's points by position
    const auto key = [](const Eigen::Vector3d& p) {
      return std::array<long, 3>{std::lround(p.x() * 1e4), std::lround(p.y() * 1e4),
                                 std::lround(p.z() * 1e4)};
    };
    for (Eigen::Index i = 0; i < t.num_points(); ++i)
      row_of[key(t.points.row(i).transpose() - ot)] = i;
    mesh::FeatureMatrix xa = x, ya = mesh::FeatureMatrix::Zero(x.rows(), 4);
    aug.apply(g, xa, ya, 0, xa.rows());
    bool renumbered = false;
    float worst = 0;
    for (Eigen::Index i = 0; i < part.num_points(); ++i) {
      Eigen::Vector3d p = part.points.row(i).transpose() - o;
      p.head<2>() = d4_matrix(g) * p.head<2>();
      const auto it = row_of.find(key(p));
      ASSERT_NE(it, row_of.end()) << "element " << g << " point " << i;
      renumbered |= it->second != i;
      worst = std::max(worst, (xa.row(i) - xt.row(it->second)).cwiseAbs().maxCoeff());
    }
    EXPECT_TRUE(renumbered) << "element " << g;
    EXPECT_LT(worst, 1e-6f) << "element " << g;
  }
}

TEST(PlaneAugmenter, RefusesDataItCannotTurn) {
  const mesh::Mesh part = l_part(0, 0);
  const mesh::FeatureRecipe v1 = mesh::FeatureRecipe::default_recipe({}, 1);
  std::string e = input_error([&] { surrogate::PlaneAugmenter(v1, identity_normalizer(v1, part), "d.h5"); });
  EXPECT_NE(e.find("d.h5: --augment"), std::string::npos) << e;
  EXPECT_NE(e.find("version 1"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;

  const mesh::FeatureRecipe v2 = mesh::FeatureRecipe::default_recipe();
  surrogate::Normalizer n = identity_normalizer(v2, part);
  n.target_arrays = {"stress"};
  n.target_components = {4};
  n.target_names = {"stress_0", "stress_1", "stress_2", "stress_3"};
  e = input_error([&] { surrogate::PlaneAugmenter(v2, n, "d.h5"); });
  EXPECT_NE(e.find("'stress' has 4 components"), std::string::npos) << e;

  n = identity_normalizer(v2, part);
  n.feature_mean[1] = 0.25;  // coord_y off centre: a turned part would be scaled otherwise
  e = input_error([&] { surrogate::PlaneAugmenter(v2, n, "d.h5"); });
  EXPECT_NE(e.find("coord_x/coord_y"), std::string::npos) << e;
  n = identity_normalizer(v2, part);
  n.target_std[2] = 2.0;  // displacement_1
  e = input_error([&] { surrogate::PlaneAugmenter(v2, n, "d.h5"); });
  EXPECT_NE(e.find("displacement_0/displacement_1"), std::string::npos) << e;
}
