// Point-sharded `predict` under mpirun with 2 CPU ranks: the files it writes hold the arrays one
// process writes (the bundled ensemble's mean and uncertainty, a single model over several meshes
// into a directory) to fp32 rounding, rank 0 alone prints and writes, and bad input is reported
// once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "mesh/io.h"
#include "mpi_launch.h"
#include "synthetic_boxes.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

// The encode's softmax over points summed in another order (two halves merged): through the
// 8 blocks of the bundled ensemble the arrays moved by at most 1.3e-6 of their largest value (the
// uncertainty; the mean 2.4e-7); a missing merge moves them by O(1) (test_sharded_infer).
constexpr double kTol = 2e-5;

class MpiPredictCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_mpi_predict_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  void SetUp() override {
    if (!test::mpirun_available()) GTEST_SKIP() << "no mpirun (" << test::mpirun_path() << ")";
  }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }
  static std::string bundled() { return std::string(FLARE_SOURCE_DIR) + "/models/lpbf-default.h5"; }
  static std::string example(const std::string& name) {
    return std::string(FLARE_SOURCE_DIR) + "/examples/lpbf/" + name;
  }
};
fs::path MpiPredictCli::dir;

// max |a − b| / max |b| of point array `name` of two meshes (inf when missing or of other sizes).
double array_diff(const mesh::Mesh& a, const mesh::Mesh& b, const std::string& name) {
  const mesh::DataArray* x = a.point_data.find(name);
  const mesh::DataArray* y = b.point_data.find(name);
  if (!x || !y) return INFINITY;
  const std::vector<double> u = x->to_doubles(), v = y->to_doubles();
  if (u.size() != v.size() || u.empty()) return INFINITY;
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < u.size(); ++i) {
    diff = std::max(diff, std::fabs(u[i] - v[i]));
    scale = std::max(scale, std::fabs(v[i]));
  }
  return diff / scale;
}

// The number after "uncertainty score " in a predict output (NaN when absent).
double score_of(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(uncertainty score ([0-9.eE+-]+))"))) return NAN;
  return std::stod(m[1]);
}

}  // namespace

TEST_F(MpiPredictCli, BundledEnsembleShardedEqualsOneProcess) {
  const std::string in = example("overhang.vtu");
  const auto one = test::run_cli("predict " + in + " -m " + bundled() + " -o " + p("one.vtu"));
  ASSERT_EQ(one.code, 0) << one.out;
  const auto two = test::run_mpi(2, "predict " + in + " -m " + bundled() + " -o " + p("two.vtu"));
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_EQ(test::count_lines_starting(two.out, "point-sharded over 2 MPI ranks"), 1) << two.out;
  // Rank 0 alone prints (and writes).
  EXPECT_EQ(test::count_lines_starting(two.out, "wrote "), 1) << two.out;
  EXPECT_EQ(test::count_lines_starting(two.out, in + ": uncertainty score"), 1) << two.out;
  EXPECT_NEAR(score_of(two.out), score_of(one.out), kTol * score_of(one.out)) << two.out;

  const mesh::Mesh a = mesh::read_mesh(p("two.vtu")), b = mesh::read_mesh(p("one.vtu"));
  ASSERT_EQ(a.num_points(), b.num_points());
  for (const char* name : {"displacement_pred", "displacement_pred_magnitude",
                           "displacement_uncertainty", "displacement_error"}) {
    const double d = array_diff(a, b, name);
    std::ostringstream text;
    text << std::scientific << d;
    RecordProperty(std::string("max_rel_diff_") + name, text.str());
    EXPECT_LT(d, kTol) << name;
  }
  // The same arrays, and no temporary file left beside the output (it is written atomically).
  EXPECT_EQ(a.point_data.names(), b.point_data.names());
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "two.vtu" || name.find("two.vtu") == std::string::npos) << name;
  }
}

// A single model, several meshes into a directory with predictions.pvd: the same files.
TEST_F(MpiPredictCli, SeveralMeshesIntoADirectoryEqualOneProcess) {
  test::write_solved_boxes(dir / "runs", 4, 5, [](int) { return "block"; });
  const auto b = test::run_cli("dataset build " + p("runs") + " -o " + p("data.h5") +
                               " --target u --split 0.5,0.5,0");
  ASSERT_EQ(b.code, 0) << b.out;
  const auto t = test::run_cli("train --data " + p("data.h5") + " -o " + p("model.h5") +
                               " --epochs 1 -C 8 -L 2 -H 2 -M 4");
  ASSERT_EQ(t.code, 0) << t.out;
  const std::string inputs =
      p("runs/box0.vtu") + " " + p("runs/box1.vtu") + " " + p("runs/box2.vtu");
  const auto one = test::run_cli("predict " + inputs + " -m " + p("model.h5") + " -o " + p("one"));
  ASSERT_EQ(one.code, 0) << one.out;
  const auto two =
      test::run_mpi(2, "predict " + inputs + " -m " + p("model.h5") + " -o " + p("two"));
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_EQ(test::count_lines_starting(two.out, "wrote 3 meshes"), 1) << two.out;
  EXPECT_TRUE(fs::exists(p("two/predictions.pvd")));
  for (const char* stem : {"box0", "box1", "box2"}) {
    const mesh::Mesh x = mesh::read_mesh(p(std::string("two/") + stem + "_pred.vtu"));
    const mesh::Mesh y = mesh::read_mesh(p(std::string("one/") + stem + "_pred.vtu"));
    EXPECT_LT(array_diff(x, y, "u_pred"), kTol) << stem;
  }
}

// Every rank meets the same bad input (a missing file, a file that is no mesh, a device the
// sharded path does not run on) or rank 0 alone does (an output it cannot write): one line, exit 2,
// no output.
TEST_F(MpiPredictCli, BadInputIsReportedOnce) {
  auto expect_one_error = [](const test::CommandResult& r, const std::string& what) {
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(test::count_lines_starting(r.out, "error: "), 1) << r.out;
    EXPECT_NE(r.out.find(what), std::string::npos) << r.out;
  };
  expect_one_error(
      test::run_mpi(2, "predict " + p("none.vtu") + " -m " + bundled() + " -o " + p("bad.vtu")),
      "none.vtu: no such file");
  { std::ofstream(p("junk.vtu")) << "not a mesh\n"; }
  expect_one_error(
      test::run_mpi(2, "predict " + p("junk.vtu") + " -m " + bundled() + " -o " + p("bad.vtu")),
      "junk.vtu");
  expect_one_error(test::run_mpi(2, "predict " + example("overhang.vtu") + " -m " + bundled() +
                                        " --device cuda -o " + p("bad.vtu")),
                   "--device");
  expect_one_error(test::run_mpi(2, "predict " + example("overhang.vtu") + " -m " + bundled() +
                                        " -o " + p("no/such/dir/bad.vtu")),
                   "bad.vtu");
  EXPECT_FALSE(fs::exists(p("bad.vtu")));
}

TEST_F(MpiPredictCli, HelpIsPrintedOnce) {
  const auto r = test::run_mpi(2, "predict --help");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(test::count_lines_starting(r.out, "usage: flare-surrogate predict"), 1) << r.out;
}
