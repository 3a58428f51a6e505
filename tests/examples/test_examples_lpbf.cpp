// The LPBF example parts in examples/lpbf: each is a closed STL and its simulated voxel part, small
// enough to commit, with the true displacement, and none of them is a part of the training data
// (`am dataset --seed 0 --count 1250`, the bundled model's dataset).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "am/dataset_gen.h"
#include "mesh/io.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

struct Example {
  std::string name;
  std::string family;  // procedural family, or "" for a user STL
  double voxel;        // voxel size the part was made with; 0: read it from the .vtu
};

const std::vector<Example>& examples() {
  static const std::vector<Example> list = {
      {"bracket", "l_bracket", 0}, {"cantilever", "cantilever", 0}, {"overhang", "overhang", 0},
      {"blade", "", 0.5}};
  return list;
}

fs::path example_file(const std::string& name, const std::string& ext) {
  return fs::path(FLARE_SOURCE_DIR) / "examples/lpbf" / (name + ext);
}

std::string field(const mesh::Mesh& m, const std::string& key) {
  auto it = m.field_strings.find(key);
  return it == m.field_strings.end() ? std::string() : it->second;
}

double voxel_of(const Example& e, const mesh::Mesh& m) {
  if (e.voxel > 0) return e.voxel;
  return m.field_data.get("voxel_size", e.name).get(0);
}

class LpbfExample : public ::testing::TestWithParam<Example> {};

TEST_P(LpbfExample, IsASmallSolvedHexPart) {
  const Example& e = GetParam();
  for (const char* ext : {".stl", ".vtu"}) {
    const fs::path f = example_file(e.name, ext);
    ASSERT_TRUE(fs::exists(f)) << f << " is missing: run examples/lpbf/make_examples.sh";
    EXPECT_LT(fs::file_size(f), 1'500'000u) << f;
  }
  const mesh::Mesh m = mesh::read_mesh(example_file(e.name, ".vtu"));
  EXPECT_GE(m.num_points(), 5000);
  EXPECT_LE(m.num_points(), 30000);
  const mesh::DataArray& u = m.point_data.get("displacement", e.name);
  ASSERT_EQ(u.components(), 3);
  double largest = 0;
  for (std::int64_t i = 0; i < m.num_points(); ++i) {
    double s = 0;
    for (int c = 0; c < 3; ++c) {
      ASSERT_TRUE(std::isfinite(u.get(i, c)));
      s += u.get(i, c) * u.get(i, c);
    }
    largest = std::max(largest, std::sqrt(s));
  }
  // A real distortion: more than a micrometre, less than a tenth of the part (mm).
  EXPECT_GT(largest, 1e-3);
  EXPECT_LT(largest, 5.0);
  EXPECT_TRUE(m.point_data.has("von_mises"));
  EXPECT_EQ(field(m, "material"), "ti64");
}

// The STL is the part's closed surface: voxelised at the part's voxel size it gives back the
// simulated part, node for node.
TEST_P(LpbfExample, StlVoxelisesBackToThePart) {
  const Example& e = GetParam();
  const mesh::Mesh part = mesh::read_mesh(example_file(e.name, ".vtu"));
  const fs::path out = fs::temp_directory_path() / ("flare_example_" + e.name + "_revox.vtu");
  char voxel[32];
  std::snprintf(voxel, sizeof voxel, "%.17g", voxel_of(e, part));
  const auto r = test::run_command(std::string(FLARE_BINARY) + " am voxelize " +
                                   test::shell_quoted(example_file(e.name, ".stl").string()) +
                                   " --voxel " + voxel + " -o " + test::shell_quoted(out.string()));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("floating"), std::string::npos) << r.out;
  const mesh::Mesh again = mesh::read_mesh(out);
  fs::remove(out);
  EXPECT_EQ(again.num_points(), part.num_points());
  EXPECT_EQ(again.num_cells(), part.num_cells());
}

TEST_P(LpbfExample, IsNotInTheTrainingData) {
  const Example& e = GetParam();
  const mesh::Mesh m = mesh::read_mesh(example_file(e.name, ".vtu"));
  if (e.family.empty()) {
    // A user STL: no procedural family can make it.
    EXPECT_EQ(field(m, "family"), "");
    EXPECT_EQ(field(m, "source"), e.name + ".stl");
    return;
  }
  ASSERT_EQ(field(m, "family"), e.family);
  const std::uint64_t seed = std::stoull(field(m, "part_seed"));
  am::DatasetOptions data;  // what `am dataset --seed 0 --count 1250` drew: the 14 families before csg
  data.seed = 0;
  data.count = 1250;
  data.families.assign(am::part_families().begin(), am::part_families().begin() + 14);
  for (int i = 0; i < data.count; ++i) {
    const am::SampleRecord s = am::plan_sample(data, i);
    EXPECT_FALSE(s.family == e.family && s.part_seed == seed)
        << e.name << " is sample " << i << " of the seed-0 dataset";
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, LpbfExample, ::testing::ValuesIn(examples()),
                         [](const auto& info) { return info.param.name; });

// The families differ, so the examples show different kinds of distortion.
TEST(LpbfExamples, AreOfDifferentFamilies) {
  std::vector<std::string> seen;
  for (const Example& e : examples()) {
    const std::string f = field(mesh::read_mesh(example_file(e.name, ".vtu")), "family");
    EXPECT_EQ(std::count(seen.begin(), seen.end(), f), 0) << f;
    seen.push_back(f);
  }
}

}  // namespace
