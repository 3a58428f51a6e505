// The dataset file: build from in-memory meshes, read back slices exactly, statistics from the
// train split only, seeded splits, bad inputs and non-dataset files.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "common/error.h"
#include "damage_h5.h"
#include "surrogate/dataset.h"
#include "surrogate/normalizer.h"
#include "tests/support/errors.h"

using namespace flare;
using namespace flare::surrogate;
namespace fs = std::filesystem;

namespace {

// n^3-node hex block of edge `size`, lifted by `z0`, with a 3-component "displacement" target
// and a scalar "layer" input that differ per sample.
mesh::Mesh block(int n, double size, double z0, double target_offset) {
  mesh::Mesh m;
  m.points.resize(std::int64_t(n) * n * n, 3);
  auto id = [n](int i, int j, int k) { return std::int64_t(i) + n * (j + std::int64_t(n) * k); };
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i)
        m.points.row(id(i, j, k)) << size * i / (n - 1), size * j / (n - 1), z0 + size * k / (n - 1);
  for (int k = 0; k + 1 < n; ++k)
    for (int j = 0; j + 1 < n; ++j)
      for (int i = 0; i + 1 < n; ++i)
        m.add_cell(mesh::CellType::Hexahedron,
                   {id(i, j, k), id(i + 1, j, k), id(i + 1, j + 1, k), id(i, j + 1, k),
                    id(i, j, k + 1), id(i + 1, j, k + 1), id(i + 1, j + 1, k + 1), id(i, j + 1, k + 1)});
  std::vector<double> u, layer;
  for (std::int64_t p = 0; p < m.num_points(); ++p) {
    u.insert(u.end(), {target_offset + m.points(p, 0), 0.5 * m.points(p, 1), -m.points(p, 2)});
    layer.push_back(std::floor(m.points(p, 2) - z0));
  }
  m.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  m.point_data.put(mesh::DataArray::from_doubles("layer", 1, layer));
  return m;
}

struct DatasetFile : ::testing::Test {
  fs::path dir;
  std::map<std::string, mesh::Mesh> meshes;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("flare_test_dataset_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
           "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  MeshReader reader() {
    return [this](const fs::path& p) {
      auto it = meshes.find(p.string());
      if (it == meshes.end()) throw InputError(p.string() + ": cannot open the file");
      return it->second;
    };
  }
  DatasetBuildOptions options(std::vector<std::string> inputs) {
    DatasetBuildOptions o;
    for (auto& i : inputs) o.inputs.push_back(i);
    o.output = dir / "data.h5";
    o.targets = {"displacement"};
    o.input_arrays = {"layer"};
    o.command_line = "test";
    return o;
  }
};

using flare::test::input_error;

}  // namespace

TEST(DatasetSplit, SeededDisjointCoveringAndPortable) {
  const auto a = split_samples(20, {0.6, 0.2, 0.2}, 42);
  EXPECT_EQ(a[0].size(), 12u);
  EXPECT_EQ(a[1].size(), 4u);
  EXPECT_EQ(a[2].size(), 4u);
  std::set<std::int64_t> all;
  for (const auto& s : a) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(split_samples(20, {0.6, 0.2, 0.2}, 42), a);
  EXPECT_NE(split_samples(20, {0.6, 0.2, 0.2}, 43), a);
  EXPECT_EQ(split_samples(1, {0.1, 0.45, 0.45}, 0)[0].size(), 1u);  // train is never empty
  EXPECT_NE(input_error([] { split_samples(5, {0.5, 0.1, 0.1}, 0); }).find("sum to 1"),
            std::string::npos);
}

TEST_F(DatasetFile, RoundTripSlicesAndTrainOnlyStatistics) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["b.vtu"] = block(4, 2.0, 5.0, 100.0);
  meshes["c.vtu"] = block(5, 3.0, -1.0, -50.0);
  auto opt = options({"a.vtu", "b.vtu", "c.vtu"});
  opt.split = {0.34, 0.33, 0.33};
  opt.seed = 9;
  const DatasetBuildResult r = build_dataset(opt, reader());
  EXPECT_EQ(r.samples, 3);
  EXPECT_EQ(r.points, 27 + 64 + 125);
  EXPECT_EQ(r.split_sizes[0], 1);

  const Dataset d(opt.output);
  ASSERT_EQ(d.num_samples(), 3);
  EXPECT_EQ(d.offsets(), (std::vector<std::int64_t>{0, 27, 91, 216}));
  EXPECT_EQ(d.sources(), (std::vector<std::string>{"a.vtu", "b.vtu", "c.vtu"}));
  EXPECT_EQ(d.target_names(), (std::vector<std::string>{"displacement_0", "displacement_1", "displacement_2"}));
  EXPECT_EQ(d.target_components(), std::vector<int>{3});
  EXPECT_EQ(d.feature_names().back(), "layer");
  ASSERT_EQ(d.num_features(), 8);
  EXPECT_EQ(d.recipe().version, 2);

  // Train bounds fix the recipe: the one train sample's box maps to [-1, 1] on its widest axis.
  const std::int64_t train = d.split("train").at(0);
  const mesh::Mesh& tm = meshes[d.sources()[train]];
  mesh::Bounds b;
  b.extend(tm.points);
  EXPECT_DOUBLE_EQ(d.recipe().length_scale, 0.5 * (b.hi - b.lo).maxCoeff());

  for (std::int64_t s = 0; s < 3; ++s) {
    const mesh::Mesh& m = meshes[d.sources()[s]];
    EXPECT_EQ(d.features(s), mesh::compute_features(m, d.recipe())) << s;
    EXPECT_EQ(d.points(s), m.points) << s;
    const auto y = d.targets(s);
    const auto u = m.point_data.find("displacement");
    for (std::int64_t i = 0; i < m.num_points(); ++i)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(y(i, c), float(u->get(i, c)));
  }

  // Statistics come from the train sample alone (the others have very different targets). The
  // in-plane pair displacement_0/1 shares mean 0 and the root mean square of both; z is its own.
  const auto y = d.targets(train);
  const auto rms = [](const mesh::FeatureMatrix& m, std::vector<int> cols) {
    double s = 0;
    for (int c : cols) s += m.col(c).cast<double>().squaredNorm();
    return std::sqrt(s / double(m.rows() * std::int64_t(cols.size())));
  };
  for (int c : {0, 1}) {
    EXPECT_EQ(d.target_mean()[c], 0.0) << c;
    EXPECT_NEAR(d.target_std()[c], rms(y, {0, 1}), 1e-9) << c;
  }
  double mean = y.col(2).cast<double>().mean(), var = 0;
  for (Eigen::Index i = 0; i < y.rows(); ++i) var += (y(i, 2) - mean) * (y(i, 2) - mean);
  EXPECT_NEAR(d.target_mean()[2], mean, 1e-9 * (1 + std::abs(mean)));
  EXPECT_NEAR(d.target_std()[2], std::sqrt(var / double(y.rows())), 1e-9);
  // Features: coord_x/y and normal_x/y are pairs; coord_z (height) and the rest per channel.
  const auto x = d.features(train);
  EXPECT_EQ(d.feature_names()[4], "normal_x");
  for (int c : {0, 1, 4, 5}) EXPECT_EQ(d.feature_mean()[c], 0.0) << c;
  EXPECT_NEAR(d.feature_std()[0], rms(x, {0, 1}), 1e-6);
  EXPECT_EQ(d.feature_std()[0], d.feature_std()[1]);
  EXPECT_NEAR(d.feature_std()[4], rms(x, {4, 5}), 1e-6);
  EXPECT_EQ(d.feature_std()[4], d.feature_std()[5]);
  EXPECT_NEAR(d.feature_mean()[2], x.col(2).cast<double>().mean(), 1e-6);
  EXPECT_GT(d.feature_mean()[2], 0.1);  // heights are >= 0: not centred

  EXPECT_THROW(d.features(3), Error);
  EXPECT_NE(input_error([&] { d.split("holdout"); }).find("holdout"), std::string::npos);
}

TEST_F(DatasetFile, BadInputsNameTheFileOrAreSkipped) {
  meshes["good.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["good2.vtu"] = block(3, 1.0, 0.0, 1.0);
  mesh::Mesh nan = block(3, 1.0, 0.0, 0.0);
  nan.point_data.find("displacement")->set(4, 1, std::nan(""));
  meshes["nan.vtu"] = nan;
  mesh::Mesh missing = block(3, 1.0, 0.0, 0.0);
  missing.point_data.remove("displacement");
  meshes["missing.vtu"] = missing;
  meshes["empty.vtu"] = mesh::Mesh{};

  for (const std::string bad : {"nan.vtu", "missing.vtu", "empty.vtu", "absent.vtu"}) {
    auto opt = options({"good.vtu", bad});
    const std::string e = input_error([&] { build_dataset(opt, reader()); });
    EXPECT_EQ(e.rfind(bad, 0), 0u) << e;  // the message starts with the file name
    EXPECT_FALSE(fs::exists(opt.output)) << "nothing written for a failed build";
  }
  EXPECT_NE(input_error([&] { build_dataset(options({"missing.vtu"}), reader()); })
                .find("'displacement'"), std::string::npos);

  auto opt = options({"good.vtu", "nan.vtu", "missing.vtu", "empty.vtu", "good2.vtu"});
  opt.skip_bad = true;
  std::vector<std::string> logged;
  const auto r = build_dataset(opt, reader(), [&](const std::string& s) { logged.push_back(s); });
  EXPECT_EQ(r.samples, 2);
  ASSERT_EQ(r.skipped.size(), 3u);
  EXPECT_EQ(r.skipped[0].first, "nan.vtu");
  EXPECT_EQ(logged.size(), 3u);
  const Dataset d(opt.output);
  EXPECT_EQ(d.sources(), (std::vector<std::string>{"good.vtu", "good2.vtu"}));

  auto none = options({"nan.vtu", "empty.vtu"});
  none.skip_bad = true;
  EXPECT_NE(input_error([&] { build_dataset(none, reader()); }).find("none of the 2"),
            std::string::npos);
}

// Inputs are read and featurised one per thread, and written in order: the file is the same
// whatever the thread count (windows of several inputs included), and of several bad inputs the
// first in input order is the one reported.
TEST_F(DatasetFile, TheFileDoesNotDependOnTheThreadCount) {
  std::vector<std::string> names;
  for (int k = 0; k < 11; ++k) {
    names.push_back("p" + std::to_string(k) + ".vtu");
    meshes[names.back()] = block(3 + k % 4, 1.0 + 0.3 * k, 0.5 * k, 10.0 * k);
  }
  const int threads = omp_get_max_threads(), levels = omp_get_max_active_levels();
  std::vector<std::unique_ptr<Dataset>> built;
  for (int t : {1, 2, 5}) {
    omp_set_num_threads(t);
    auto opt = options(names);
    opt.output = dir / ("data" + std::to_string(t) + ".h5");
    opt.split = {0.6, 0.2, 0.2};
    build_dataset(opt, reader());
    EXPECT_EQ(omp_get_max_threads(), t);  // the nested teams leave the caller's settings alone
    EXPECT_EQ(omp_get_max_active_levels(), levels);
    built.push_back(std::make_unique<Dataset>(opt.output));
  }
  omp_set_num_threads(threads);
  const Dataset& a = *built.front();
  for (std::size_t k = 1; k < built.size(); ++k) {
    const Dataset& b = *built[k];
    EXPECT_EQ(b.sources(), a.sources());
    EXPECT_EQ(b.feature_mean(), a.feature_mean());
    EXPECT_EQ(b.feature_std(), a.feature_std());
    EXPECT_EQ(b.target_mean(), a.target_mean());
    EXPECT_EQ(b.target_std(), a.target_std());
    for (std::int64_t s = 0; s < a.num_samples(); ++s) {
      EXPECT_EQ(b.features(s), a.features(s)) << s;
      EXPECT_EQ(b.targets(s), a.targets(s)) << s;
      EXPECT_EQ(b.points(s), a.points(s)) << s;
    }
  }

  mesh::Mesh nan = block(3, 1.0, 0.0, 0.0);
  nan.point_data.find("displacement")->set(4, 1, std::nan(""));
  meshes["bad_nan.vtu"] = nan;
  std::vector<std::string> with_bad = names;
  with_bad.insert(with_bad.begin() + 7, "bad_nan.vtu");
  with_bad.insert(with_bad.begin() + 3, "absent.vtu");
  omp_set_num_threads(4);
  const std::string e = input_error([&] { build_dataset(options(with_bad), reader()); });
  omp_set_num_threads(threads);
  EXPECT_EQ(e.rfind("absent.vtu", 0), 0u) << e;
}

TEST_F(DatasetFile, NotADatasetIsAClearError) {
  const fs::path text = dir / "notes.h5";
  std::ofstream(text) << "not hdf5";
  EXPECT_NE(input_error([&] { Dataset d(text); }).find("notes.h5"), std::string::npos);
  {
    h5::Handle f = h5::create_file(dir / "other.h5");
    h5::write_attr(f, "format", std::string("flare-surrogate-checkpoint"));
  }
  const std::string e = input_error([&] { Dataset d(dir / "other.h5"); });
  EXPECT_NE(e.find("not a flare-surrogate dataset"), std::string::npos) << e;
  EXPECT_NE(input_error([&] { Dataset d(dir / "nope.h5"); }).find("nope.h5"), std::string::npos);
}

TEST_F(DatasetFile, AssignedSplitsFamiliesAndTrainDomain) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);  // 27 nodes, extent 1, edge 0.5
  meshes["a.vtu"].field_strings["family"] = "bracket";
  meshes["b.vtu"] = block(4, 2.0, 5.0, 100.0);  // 64 nodes, extent 2, edge 2/3: test only
  meshes["c.vtu"] = block(5, 3.0, -1.0, -50.0);  // 125 nodes, extent 3, edge 0.75
  meshes["c.vtu"].field_strings["family"] = "tower";
  auto opt = options({"a.vtu", "b.vtu", "c.vtu"});
  opt.split = {0.0, 0.0, 0.0};  // ignored: each input's split is given
  opt.sample_splits = {"train", "test", "train"};
  opt.sample_families = {"", "plate", "lattice"};  // used only where the mesh does not say
  const auto r = build_dataset(opt, reader());
  EXPECT_EQ(r.split_sizes, (std::array<std::int64_t, 3>{2, 0, 1}));

  const Dataset d(opt.output);
  EXPECT_EQ(d.split("train"), (std::vector<std::int64_t>{0, 2}));
  EXPECT_TRUE(d.split("val").empty());
  EXPECT_EQ(d.split("test"), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(d.families(), (std::vector<std::string>{"bracket", "plate", "tower"}));
  const TrainingDomain dom = TrainingDomain::from_json(d.training_domain(), "test");
  EXPECT_EQ(dom.samples, 2);
  EXPECT_EQ(dom.min_nodes, 27);
  EXPECT_EQ(dom.max_nodes, 125);  // b (64 nodes) is a test sample and must not count
  EXPECT_DOUBLE_EQ(dom.min_extent[2], 1.0);
  EXPECT_DOUBLE_EQ(dom.max_extent[0], 3.0);
  EXPECT_DOUBLE_EQ(dom.min_edge, 0.5);
  EXPECT_DOUBLE_EQ(dom.max_edge, 0.75);

  auto no_train = options({"a.vtu", "b.vtu"});
  no_train.sample_splits = {"val", "test"};
  EXPECT_NE(input_error([&] { build_dataset(no_train, reader()); }).find("train split"),
            std::string::npos);
  auto bad_name = options({"a.vtu"});
  bad_name.sample_splits = {"holdout"};
  EXPECT_NE(input_error([&] { build_dataset(bad_name, reader()); }).find("holdout"),
            std::string::npos);
}

TEST_F(DatasetFile, OlderFilesWithoutFamiliesOrDomainStillOpen) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["a.vtu"].field_strings["family"] = "bracket";
  auto opt = options({"a.vtu"});
  opt.split = {1.0, 0.0, 0.0};
  build_dataset(opt, reader());
  {  // what a dataset written before these attributes existed looks like
    const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    EXPECT_GE(H5Adelete(f, "families"), 0);
    EXPECT_GE(H5Adelete(f, "training_domain"), 0);
    H5Fclose(f);
  }
  const Dataset d(opt.output);
  EXPECT_EQ(d.families(), std::vector<std::string>{""});
  EXPECT_TRUE(d.training_domain().is_null());
}

TEST_F(DatasetFile, NonFiniteValueInAFileNamesTheSampleItsSourceAndTheColumn) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["b.vtu"] = block(3, 1.0, 0.0, 1.0);
  meshes["c.vtu"] = block(3, 1.0, 0.0, 2.0);
  auto opt = options({"a.vtu", "b.vtu", "c.vtu"});
  opt.sample_splits = {"train", "val", "test"};
  build_dataset(opt, reader());
  const std::string feature = Dataset(opt.output).feature_names()[4];
  test::poke_sample_value(opt.output, "features", 1, 7, 4, std::nanf(""));
  test::poke_sample_value(opt.output, "features", 1, 9, 0, INFINITY);
  test::poke_sample_value(opt.output, "targets", 2, 3, 2, -INFINITY);
  const Dataset d(opt.output);  // opening reads no sample rows
  EXPECT_NO_THROW(d.features(0));
  EXPECT_NO_THROW(d.targets(1));
  const std::string e = input_error([&] { d.features(1); });
  EXPECT_EQ(e.rfind(opt.output.string() + ": sample 1 (b.vtu)", 0), 0u) << e;
  EXPECT_NE(e.find("non-finite feature: column '" + feature + "' is nan at point 7 (2 non-finite values)"),
            std::string::npos) << e;
  const std::string t = input_error([&] { d.targets(2); });
  EXPECT_NE(t.find("sample 2 (c.vtu) has a non-finite target: column 'displacement_2' is -inf at point 3"),
            std::string::npos) << t;
}

TEST_F(DatasetFile, StatisticsThatAreNotFiniteAndPositiveAreRefused) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  auto opt = options({"a.vtu"});
  opt.split = {1.0, 0.0, 0.0};
  build_dataset(opt, reader());
  std::vector<double> fstd, tmean;
  std::vector<std::string> fnames;
  {
    const Dataset good(opt.output);
    for (double sd : good.feature_std()) EXPECT_GT(sd, 0);  // a constant channel stores 1, not 0
    fstd = good.feature_std();
    tmean = good.target_mean();
    fnames = good.feature_names();
  }

  test::overwrite_stats(opt.output, "feature_std", std::vector<double>(fstd.size(), 0.0));
  std::string e = input_error([&] { Dataset d(opt.output); });
  EXPECT_EQ(e.rfind(opt.output.string() + ": corrupt statistics: the feature standard deviation of column '" +
                        fnames[0] + "' is 0 (must be finite and positive); " +
                        std::to_string(fstd.size()) + " of " + std::to_string(fstd.size()),
                    0), 0u) << e;
  EXPECT_NE(e.find("dataset build"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;

  auto one_bad = fstd;
  one_bad[2] = -1.0;
  test::overwrite_stats(opt.output, "feature_std", one_bad);
  e = input_error([&] { Dataset d(opt.output); });
  EXPECT_NE(e.find("column '" + fnames[2] + "' is -1 (must be finite and positive); 1 of"), std::string::npos) << e;

  test::overwrite_stats(opt.output, "feature_std", fstd);
  auto nan_mean = tmean;
  nan_mean[1] = std::nan("");
  test::overwrite_stats(opt.output, "target_mean", nan_mean);
  e = input_error([&] { Dataset d(opt.output); });
  EXPECT_NE(e.find("the target mean of column 'displacement_1' is nan (must be finite)"), std::string::npos) << e;

  test::overwrite_stats(opt.output, "target_mean", tmean);
  EXPECT_NO_THROW(Dataset d(opt.output));
}

TEST_F(DatasetFile, CheckpointNormalizerStatisticsAreChecked) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  auto opt = options({"a.vtu"});
  opt.split = {1.0, 0.0, 0.0};
  build_dataset(opt, reader());
  nlohmann::json j = Normalizer::from_dataset(Dataset(opt.output)).to_json();
  EXPECT_NO_THROW(Normalizer::from_json(j, "model.h5"));
  j["target_std"][0] = 0.0;
  const std::string e = input_error([&] { Normalizer::from_json(j, "model.h5"); });
  EXPECT_EQ(e.rfind("model.h5: corrupt statistics: the target standard deviation of column "
                    "'displacement_0' is 0",
                    0), 0u) << e;
  j["target_std"][0] = 1.0;
  j["feature_mean"][1] = INFINITY;
  EXPECT_NE(input_error([&] { Normalizer::from_json(j, "model.h5"); })
                .find("model.h5: corrupt statistics: the feature mean of column"),
            std::string::npos);
}

TEST_F(DatasetFile, BuildNamesValuesThatFloat32CannotHold) {
  meshes["good.vtu"] = block(3, 1.0, 0.0, 0.0);
  mesh::Mesh big = block(3, 1.0, 0.0, 0.0);
  big.point_data.find("displacement")->set(5, 1, 1e39);  // finite as a double, inf as a float
  meshes["big.vtu"] = big;
  std::string e = input_error([&] { build_dataset(options({"good.vtu", "big.vtu"}), reader()); });
  EXPECT_EQ(e.rfind("big.vtu: target column 'displacement_1' has a value beyond single precision (1e+39) at point 5", 0), 0u) << e;
  mesh::Mesh nan = block(3, 1.0, 0.0, 0.0);
  nan.point_data.find("layer")->set(2, 0, std::nan(""));
  meshes["nan.vtu"] = nan;
  e = input_error([&] { build_dataset(options({"good.vtu", "nan.vtu"}), reader()); });
  EXPECT_EQ(e.rfind("nan.vtu: input column 'layer' has a non-finite value (nan) at point 2", 0), 0u) << e;

  // A coordinate that only overflows once normalised by the train split's bounds: found in pass 2.
  mesh::Mesh far = block(3, 1.0, 0.0, 0.0);
  far.points(4, 0) = 1e39;
  meshes["far.vtu"] = far;
  auto opt = options({"good.vtu", "far.vtu"});
  opt.sample_splits = {"train", "test"};
  e = input_error([&] { build_dataset(opt, reader()); });
  EXPECT_EQ(e.rfind("far.vtu (sample 1): non-finite feature column 'coord_x' is -inf at point 0", 0), 0u) << e;
  EXPECT_FALSE(fs::exists(opt.output));
}

// Recipe version 2 (the default): the parts' positions on the plate change nothing, neither the
// features nor the statistics nor the length scale.
TEST_F(DatasetFile, Version2DoesNotDependOnWhereThePartsSit) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["b.vtu"] = block(4, 2.0, 0.0, 100.0);
  meshes["c.vtu"] = block(5, 3.0, 0.0, -50.0);
  auto opt = options({"a.vtu", "b.vtu", "c.vtu"});
  opt.split = {0.67, 0.33, 0.0};
  build_dataset(opt, reader());
  const fs::path here = dir / "here.h5";
  fs::rename(opt.output, here);
  double dx = 40;
  for (auto& [name, m] : meshes) {  // each part elsewhere on the plate; targets unchanged
    m.points.col(0).array() += dx;
    m.points.col(1).array() += 25 - dx;
    dx += 17.5;
  }
  build_dataset(opt, reader());
  const Dataset a(here), b(opt.output);
  EXPECT_EQ(a.recipe().length_scale, b.recipe().length_scale);
  for (std::int64_t s = 0; s < 3; ++s)
    EXPECT_LT((a.features(s) - b.features(s)).cwiseAbs().maxCoeff(), 1e-6f) << s;
  for (std::int64_t c = 0; c < a.num_features(); ++c) {
    EXPECT_NEAR(a.feature_mean()[c], b.feature_mean()[c], 1e-6) << c;
    EXPECT_NEAR(a.feature_std()[c], b.feature_std()[c], 1e-6) << c;
  }
  EXPECT_EQ(a.target_mean(), b.target_mean());
  EXPECT_EQ(a.target_std(), b.target_std());
}

// --recipe-version 1 still builds what the bundled models were trained on: a dataset-wide origin
// and per-channel statistics.
TEST_F(DatasetFile, Version1StillBuildsAsBefore) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["b.vtu"] = block(4, 2.0, 5.0, 100.0);
  auto opt = options({"a.vtu", "b.vtu"});
  opt.split = {1.0, 0.0, 0.0};
  opt.recipe_version = 1;
  build_dataset(opt, reader());
  const Dataset d(opt.output);
  EXPECT_EQ(d.recipe().version, 1);
  EXPECT_EQ(d.feature_names(),
            (std::vector<std::string>{"coord_x", "coord_y", "coord_z", "boundary_distance",
                                      "normal_x", "normal_y", "normal_z", "height", "layer"}));
  // Union of the two train boxes: [0, 2] x [0, 2] x [0, 7].
  EXPECT_NEAR((d.recipe().origin - Eigen::Vector3d(1, 1, 3.5)).norm(), 0, 1e-12);
  EXPECT_DOUBLE_EQ(d.recipe().length_scale, 3.5);
  double mean0 = 0;
  std::int64_t n = 0;
  for (std::int64_t s = 0; s < 2; ++s) {
    const auto y = d.targets(s);
    mean0 += y.col(0).cast<double>().sum();
    n += y.rows();
  }
  EXPECT_NEAR(d.target_mean()[0], mean0 / double(n), 1e-9 * std::abs(mean0 / double(n)));
  EXPECT_NE(d.target_std()[0], d.target_std()[1]);
}

// --recipe-from: other parts get the trained model's recipe as it is (its length scale, not one
// fitted on them), so a fine-tuned model sees them at the scale it learned; a recipe that reads
// other input arrays is refused, naming both lists.
TEST_F(DatasetFile, AFixedRecipeIsUsedAsItIs) {
  meshes["a.vtu"] = block(3, 1.0, 0.0, 0.0);
  meshes["b.vtu"] = block(4, 2.0, 0.0, 100.0);
  auto opt = options({"a.vtu", "b.vtu"});
  opt.split = {1.0, 0.0, 0.0};
  build_dataset(opt, reader());
  const nlohmann::json trained = Dataset(opt.output).recipe().to_json();
  const double scale = Dataset(opt.output).recipe().length_scale;

  meshes["big.vtu"] = block(5, 8.0, 0.0, 10.0);  // 4x larger: a fitted scale would change
  auto more = options({"big.vtu", "a.vtu"});
  more.output = dir / "more.h5";
  more.split = {1.0, 0.0, 0.0};
  build_dataset(more, reader());
  EXPECT_NE(Dataset(more.output).recipe().length_scale, scale);
  more.fixed_recipe = trained;
  build_dataset(more, reader());
  const Dataset d(more.output);
  EXPECT_EQ(d.recipe().to_json(), trained);
  EXPECT_EQ(d.recipe().length_scale, scale);
  // Part a's features are the same numbers as in the dataset the recipe was fitted on.
  const Dataset first(opt.output);
  EXPECT_EQ((d.features(1) - first.features(0)).cwiseAbs().maxCoeff(), 0.0f);

  // Without input arrays the recipe's own are read; other arrays than its own are refused.
  more.input_arrays = {};
  build_dataset(more, reader());
  EXPECT_EQ(Dataset(more.output).recipe().to_json(), trained);
  more.input_arrays = {"other"};
  const std::string e = input_error([&] { build_dataset(more, reader()); });
  EXPECT_NE(e.find("--recipe-from"), std::string::npos) << e;
  EXPECT_NE(e.find("[\"layer\"]"), std::string::npos) << e;
  EXPECT_NE(e.find("[\"other\"]"), std::string::npos) << e;
}
