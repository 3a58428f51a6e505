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
#include <sstream>

#include "mesh/features.h"
#include "mesh/io.h"
#include "surrogate/predictor.h"

using namespace flare;
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
