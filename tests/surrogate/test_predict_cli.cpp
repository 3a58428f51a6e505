// `predict` end to end through the executable: --timings (every stage, summing to the wall time),
// surfaces (.stl, .vtp) voxelised in the model's training range or at --voxel, surfaces that
// cannot be voxelised, and several meshes in one call giving what one call per mesh gives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "surrogate/domain.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args, bool merge_stderr = true) {
  return flare::test::run_cli(args, merge_stderr);
}
using flare::test::lines;

// An ASCII STL of an axis-aligned box [lo, hi], 12 outward triangles.
void write_box_stl(const fs::path& p, Eigen::Vector3d lo, Eigen::Vector3d hi) {
  auto corner = [&](int c) {
    return Eigen::Vector3d(c & 1 ? hi.x() : lo.x(), c & 2 ? hi.y() : lo.y(), c & 4 ? hi.z() : lo.z());
  };
  const int quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  std::ofstream f(p);
  f << "solid box\n";
  for (const auto& q : quads)
    for (const auto& t : {std::array<int, 3>{q[0], q[1], q[2]}, std::array<int, 3>{q[0], q[2], q[3]}}) {
      f << " facet normal 0 0 0\n  outer loop\n";
      for (int v : t) {
        const Eigen::Vector3d x = corner(v);
        f << "   vertex " << x.x() << " " << x.y() << " " << x.z() << "\n";
      }
      f << "  endloop\n endfacet\n";
    }
  f << "endsolid box\n";
}

// A model trained for one epoch on small hexahedral boxes (volume meshes), shared by the tests.
class PredictCli : public ::testing::Test {
 protected:
  static fs::path dir;
  static surrogate::TrainingDomain domain;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("flare_test_predict_cli_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "runs");
    test::write_solved_boxes(dir / "runs", 6, 5, [](int) { return "block"; });
    const auto b = run("dataset build " + p("runs") + " -o " + p("data.h5") +
                       " --target u --split 0.5,0.5,0");
    ASSERT_EQ(b.code, 0) << b.out;
    const auto t = run("train --data " + p("data.h5") + " -o " + p("model.h5") +
                       " --epochs 1 -C 8 -L 1 -H 2 -M 4");
    ASSERT_EQ(t.code, 0) << t.out;
    const auto ck = surrogate::load_checkpoint(p("model.h5"));
    ASSERT_FALSE(ck.training_domain.is_null());
    domain = surrogate::TrainingDomain::from_json(ck.training_domain, "model.h5");
    ASSERT_EQ(domain.max_dim, 3);
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return (dir / rel).string(); }
};
fs::path PredictCli::dir;
surrogate::TrainingDomain PredictCli::domain;

// "  name   1.234 s" rows of the --timings block, in order.
std::vector<std::pair<std::string, double>> timing_rows(const std::string& out) {
  std::vector<std::pair<std::string, double>> rows;
  const std::regex row(R"(^  ([a-z][a-z ]*[a-z]) +([0-9]+\.[0-9]{3}) s)");
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) rows.emplace_back(m[1], std::stod(m[2]));
  }
  return rows;
}

std::vector<double> values(const mesh::Mesh& m, const std::string& array) {
  const mesh::DataArray* a = m.point_data.find(array);
  return a ? a->to_doubles() : std::vector<double>{};
}

}  // namespace

// Every stage is printed, and the stages (timed one by one) add up to the wall time of the
// command (timed on its own clock) within 10%: a stage left untimed would show as the gap.
TEST_F(PredictCli, TimingsListEveryStageAndSumToTheWallTime) {
  mesh::Mesh big = mesh::hex_grid(36, 30, 24, 0.25);  // 28,675 nodes: every stage takes a while
  mesh::write_vtu(big, dir / "big.vtu");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run("predict " + p("big.vtu") + " -m " + p("model.h5") + " -o " + p("big_pred.vtu") +
                     " --timings", false);
  const double outside = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("timings (1 mesh, 28675 nodes):"), std::string::npos) << r.out;
  const auto rows = timing_rows(r.out);
  const std::vector<std::string> expected = {"load model", "read",     "features", "upload",
                                             "model",      "download", "write",    "total"};
  ASSERT_EQ(rows.size(), expected.size()) << r.out;
  double sum = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].first, expected[i]) << r.out;
    EXPECT_GE(rows[i].second, 0.0) << r.out;
    if (i + 1 < rows.size()) sum += rows[i].second;
  }
  const double total = rows.back().second;
  EXPECT_GT(total, 0.0);
  EXPECT_NEAR(sum, total, 0.1 * total) << r.out;
  EXPECT_LE(total, outside) << "the command cannot take longer than the process";
  // The stages that do real work on this mesh took measurable time.
  for (const char* busy : {"read", "features", "model", "write"})
    for (const auto& [name, s] : rows)
      if (name == busy) EXPECT_GT(s, 0.0) << name << "\n" << r.out;
  std::istringstream tail(r.out.substr(r.out.find("  total")));
  std::string line;
  std::getline(tail, line);
  EXPECT_NE(line.find("(stages sum "), std::string::npos) << line;
}

TEST_F(PredictCli, StlIsVoxelizedInTheTrainingRangeAndCarriesThePrediction) {
  write_box_stl(dir / "part.stl", {1, 2, 0}, {7.3, 6.1, 4.4});
  const auto r = run("predict " + p("part.stl") + " -m " + p("model.h5") + " -o " + p("part_pred.vtu") +
                     " --timings");
  ASSERT_EQ(r.code, 0) << r.out;
  const mesh::Mesh out = mesh::read_mesh(p("part_pred.vtu"));
  ASSERT_EQ(out.dimension(), 3);
  for (std::int64_t c = 0; c < out.num_cells(); ++c) ASSERT_EQ(out.cell_type(c), mesh::CellType::Hexahedron);
  ASSERT_TRUE(out.point_data.has("u_pred")) << r.out;
  EXPECT_TRUE(out.point_data.has("u_pred_magnitude"));
  ASSERT_TRUE(out.field_data.has("voxel_size"));
  const double h = out.field_data.find("voxel_size")->get(0);
  EXPECT_GE(h, domain.min_edge);
  EXPECT_LE(h, domain.max_edge);
  EXPECT_GE(out.num_points(), domain.min_nodes) << r.out;
  EXPECT_LE(out.num_points(), domain.max_nodes) << r.out;
  // The message names the file, the voxel size and the node count it produced.
  std::ostringstream expect;
  expect << p("part.stl") << ": voxelized at voxel " << h << " (target ";
  EXPECT_NE(r.out.find(expect.str()), std::string::npos) << r.out << "\nexpected: " << expect.str();
  EXPECT_NE(r.out.find("): " + std::to_string(out.num_points()) + " nodes, "), std::string::npos) << r.out;
  // The voxelize stage is timed when it applies.
  bool voxelize_row = false;
  for (const auto& [name, s] : timing_rows(r.out)) voxelize_row |= name == "voxelize";
  EXPECT_TRUE(voxelize_row) << r.out;
}

TEST_F(PredictCli, VoxelOptionIsHonouredAndSurfaceVtpIsVoxelizedToo) {
  write_box_stl(dir / "v.stl", {0, 0, 0}, {6, 5, 4});
  auto r = run("predict " + p("v.stl") + " -m " + p("model.h5") + " -o " + p("v_pred.vtu") + " --voxel 0.5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("voxelized at voxel 0.5 (--voxel): 1287 nodes, 960 hexahedra"), std::string::npos) << r.out;
  mesh::Mesh out = mesh::read_mesh(p("v_pred.vtu"));
  EXPECT_EQ(out.field_data.find("voxel_size")->get(0), 0.5);
  EXPECT_EQ(out.num_points(), 13 * 11 * 9);  // a 12 x 10 x 8 block of voxels
  EXPECT_TRUE(out.point_data.has("u_pred"));

  // The same box as a .vtp surface.
  mesh::Mesh surface = mesh::read_mesh(p("v.stl"));
  mesh::write_mesh(surface, dir / "v.vtp");
  r = run("predict " + p("v.vtp") + " -m " + p("model.h5") + " -o " + p("vtp_pred.vtu") + " --voxel 0.5");
  ASSERT_EQ(r.code, 0) << r.out;
  const mesh::Mesh vtp = mesh::read_mesh(p("vtp_pred.vtu"));
  EXPECT_EQ(values(vtp, "u_pred"), values(out, "u_pred"));

  r = run("predict " + p("v.stl") + " -m " + p("model.h5") + " -o " + p("x.vtu") + " --voxel -1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("--voxel"), std::string::npos) << r.out;
}

// A surface that cannot be voxelised (a flat sheet) or cannot be read: one line naming the file,
// exit 2, nothing written.
TEST_F(PredictCli, SurfaceThatCannotBeVoxelizedExits2WithOneLine) {
  {
    std::ofstream f(dir / "flat.stl");
    f << "solid flat\n";
    for (const char* t : {"0 0 0|4 0 0|4 3 0", "0 0 0|4 3 0|0 3 0"}) {
      f << " facet normal 0 0 1\n  outer loop\n";
      std::string s(t);
      std::replace(s.begin(), s.end(), '|', '\n');
      std::istringstream in(s);
      for (std::string v; std::getline(in, v);) f << "   vertex " << v << "\n";
      f << "  endloop\n endfacet\n";
    }
    f << "endsolid flat\n";
  }
  auto r = run("predict " + p("flat.stl") + " -m " + p("model.h5") + " -o " + p("flat_pred.vtu"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("flat.stl"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("flat_pred.vtu")));

  { std::ofstream(dir / "junk.stl", std::ios::binary) << std::string(100, '\x07'); }
  r = run("predict " + p("junk.stl") + " -m " + p("model.h5") + " -o " + p("junk_pred.vtu"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("junk.stl"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p("junk_pred.vtu")));
}

// One call on several meshes (of different sizes, a surface among them, so the model's buffers
// grow and are reused) writes exactly what one call per mesh writes.
TEST_F(PredictCli, SeveralMeshesInOneCallEqualOneCallEach) {
  write_box_stl(dir / "m.stl", {0, 0, 0}, {5, 4, 3});
  mesh::Mesh big = mesh::hex_grid(12, 9, 7, 0.6);
  mesh::write_vtu(big, dir / "mbig.vtu");
  const std::vector<std::string> inputs = {p("runs/box0.vtu"), p("mbig.vtu"), p("m.stl"), p("runs/box1.vtu")};
  std::string all;
  for (const auto& in : inputs) all += in + " ";
  const auto r = run("predict " + all + "-m " + p("model.h5") + " -o " + p("multi") + " --timings");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("timings (4 meshes, "), std::string::npos) << r.out;
  for (const auto& in : inputs) {
    const std::string stem = fs::path(in).stem().string();
    const auto one = run("predict " + in + " -m " + p("model.h5") + " -o " + p(stem + "_one.vtu"));
    ASSERT_EQ(one.code, 0) << one.out;
    const mesh::Mesh a = mesh::read_mesh(p("multi/" + stem + "_pred.vtu"));
    const mesh::Mesh b = mesh::read_mesh(p(stem + "_one.vtu"));
    ASSERT_EQ(a.num_points(), b.num_points()) << in;
    EXPECT_FALSE(values(a, "u_pred").empty()) << in;
    EXPECT_EQ(values(a, "u_pred"), values(b, "u_pred")) << in;
    EXPECT_EQ(values(a, "u_pred_magnitude"), values(b, "u_pred_magnitude")) << in;
  }
}
