// Reading the split and family of each input from an `am dataset` manifest.json.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "surrogate/manifest.h"

using namespace flare;
using namespace flare::surrogate;
namespace fs = std::filesystem;

namespace {

struct Manifest : ::testing::Test {
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("flare_test_manifest_" + std::to_string(getpid()) + "_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    // The shape `am dataset` writes (am/dataset_gen.cpp write_manifest), trimmed.
    std::ofstream(dir / "a" / "manifest.json") << R"({"format": "flare-am-dataset", "samples": [
      {"index": 0, "file": "sample_00000.vtu", "family": "bracket", "split": "train"},
      {"index": 1, "file": "sample_00001.vtu", "family": "lattice", "split": "test"},
      {"index": 2, "file": "sample_00002.vtu", "family": "tower", "split": "val",
       "error": "solver diverged"}]})";
    std::ofstream(dir / "b" / "manifest.json") << R"({"samples": [
      {"file": "sample_00000.vtu", "split": "val"}]})";
  }
  void TearDown() override { fs::remove_all(dir); }
};

std::string input_error(const std::vector<fs::path>& inputs) {
  try {
    read_manifest_entries(inputs);
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no InputError>";
}

}  // namespace

TEST_F(Manifest, EachInputTakesSplitAndFamilyFromItsOwnFolder) {
  const auto e = read_manifest_entries({dir / "a" / "sample_00001.vtu",
                                        dir / "b" / "sample_00000.vtu",
                                        dir / "a" / "." / "sample_00000.vtu"});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].split, "test");
  EXPECT_EQ(e[0].family, "lattice");
  EXPECT_EQ(e[1].split, "val");
  EXPECT_EQ(e[1].family, "");  // no family in that manifest
  EXPECT_EQ(e[2].split, "train");
  EXPECT_EQ(e[2].family, "bracket");
}

TEST_F(Manifest, MissingEntriesFailedSamplesAndMissingManifestsAreInputErrors) {
  std::string msg = input_error({dir / "a" / "sample_00009.vtu"});
  EXPECT_NE(msg.find("sample_00009.vtu: not listed in"), std::string::npos) << msg;
  msg = input_error({dir / "a" / "sample_00002.vtu"});
  EXPECT_NE(msg.find("failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("solver diverged"), std::string::npos) << msg;
  fs::create_directories(dir / "c");
  msg = input_error({dir / "c" / "x.vtu"});
  EXPECT_NE(msg.find("manifest.json: no manifest here"), std::string::npos) << msg;
  std::ofstream(dir / "c" / "manifest.json") << "{ not json";
  msg = input_error({dir / "c" / "x.vtu"});
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  std::ofstream(dir / "c" / "manifest.json") << R"({"samples": [{"file": "x.vtu", "split": "holdout"}]})";
  msg = input_error({dir / "c" / "x.vtu"});
  EXPECT_NE(msg.find("'holdout'"), std::string::npos) << msg;
}
