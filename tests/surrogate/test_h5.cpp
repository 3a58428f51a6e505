#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "surrogate/h5.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {
fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("flare_test_h5_" + std::to_string(::getpid()) + "_" + name);
}
}  // namespace

TEST(H5, DatasetsAttributesAndRowsRoundTrip) {
  const auto path = temp_file("rt.h5");
  {
    h5::Handle f = h5::create_file(path);
    h5::Handle g = h5::create_group(f, "params");
    const std::vector<float> x = {1, 2, 3, 4, 5, 6};
    h5::write_dataset(g, "x", x.data(), {3, 2});
    const std::vector<std::int64_t> off = {0, 2, 3};
    h5::write_dataset(f, "offsets", off.data(), {3});
    h5::write_attr(f, "format", std::string("flare-surrogate"));
    h5::write_attr(f, "version", std::int64_t{3});
    h5::write_attr(f, "lr", 0.5);
    h5::write_attr_json(f, "config", nlohmann::json{{"a", 1}});
    h5::write_attr(f, "version", std::int64_t{4});  // overwrite
  }
  h5::Handle f = h5::open_file(path);
  EXPECT_TRUE(h5::exists(f, "params/x"));
  EXPECT_FALSE(h5::exists(f, "params/y"));
  EXPECT_FALSE(h5::exists(f, "nogroup/y"));
  EXPECT_EQ(h5::dataset_shape(f, "params/x"), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(h5::read_dataset<float>(f, "params/x"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(h5::read_dataset<double>(f, "params/x")[5], 6.0);  // converted on read
  std::vector<float> rows(4);
  h5::read_rows(f, "params/x", 1, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(h5::read_attr_string(f, "format"), "flare-surrogate");
  EXPECT_EQ(h5::read_attr_int(f, "version"), 4);
  EXPECT_EQ(h5::read_attr_double(f, "lr"), 0.5);
  EXPECT_EQ(h5::read_attr_json(f, "config")["a"], 1);
  EXPECT_THROW(h5::read_attr_int(f, "format"), InputError);
  EXPECT_THROW(h5::read_rows(f, "params/x", 2, 2, rows.data()), InputError);
  try {
    h5::read_dataset<float>(f, "params/missing");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("params/missing"), std::string::npos) << e.what();
  }
  std::vector<float> wrong(5);
  EXPECT_THROW(h5::read_dataset(f, "params/x", wrong.data(), 5), InputError);
  f.reset();
  fs::remove(path);
}

TEST(H5, MissingAndNonHdf5FilesAreInputErrors) {
  const auto missing = temp_file("missing.h5");
  try {
    h5::open_file(missing);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos);
  }
  const auto text = temp_file("text.h5");
  std::ofstream(text) << "not hdf5";
  EXPECT_THROW(h5::open_file(text), InputError);
  fs::remove(text);
}
