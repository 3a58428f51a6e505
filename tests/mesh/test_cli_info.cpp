// `flare-surrogate info` and `bench io` as a user runs them: exit codes, one-line errors on stderr
// with nothing from VTK, text and JSON reports.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;
using nlohmann::json;

namespace {

struct CliResult {
  int code;
  std::string out, err;
};

CliResult run(const ScratchDir& dir, const std::string& args) {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = std::string(FLARE_BINARY) + " " + args + " >" + out.string() + " 2>" +
                          err.string();
  const int status = std::system(cmd.c_str());
  return {WEXITSTATUS(status), read_bytes(out), read_bytes(err)};
}

// A 2 × 1 × 1 hex grid with a float array holding one NaN, and a cell array.
Mesh sample() {
  Mesh m = hex_grid(2, 1, 1, 0.5);
  std::vector<float> t(std::size_t(m.num_points()));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = float(i);
  t[3] = std::nanf("");
  m.point_data.put(DataArray::from_floats("temperature", 1, t));
  DataArray id("grain", DType::Int32, 1, 2);
  id.set(0, 0, 4);
  id.set(1, 0, -2);
  m.cell_data.put(id);
  m.field_strings["material"] = "IN718";
  return m;
}

void expect_one_line_error(const CliResult& r, const std::string& file) {
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line: " << r.err;
  EXPECT_EQ(r.err.find("ERR|"), std::string::npos) << "VTK log output: " << r.err;
  EXPECT_EQ(r.err.find("vtk"), std::string::npos) << "VTK class names leaked: " << r.err;
}

TEST(InfoCli, TextReport) {
  ScratchDir dir;
  write_vtu(sample(), dir / "s.vtu");
  const CliResult info = run(dir, "info " + (dir / "s.vtu").string());
  EXPECT_EQ(info.code, 0) << info.err;
  EXPECT_EQ(info.err, "");
  for (const char* want : {"points      12", "cells       2  (hexahedron 2)", "volume      0.25",
                           "temperature", "float32", "nan 1", "grain", "material = IN718"})
    EXPECT_NE(info.out.find(want), std::string::npos) << want << " missing in:\n" << info.out;
}

TEST(InfoCli, JsonReport) {
  ScratchDir dir;
  write_vtu(sample(), dir / "s.vtu");
  const CliResult r = run(dir, "info --json " + (dir / "s.vtu").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["files"].size(), 1u);
  const json& f = j["files"][0];
  EXPECT_EQ(f["points"], 12);
  EXPECT_EQ(f["cells"], 2);
  EXPECT_EQ(f["cell_types"]["hexahedron"], 2);
  EXPECT_DOUBLE_EQ(f["volume"].get<double>(), 0.25);
  EXPECT_EQ(f["bounds"][0][1], 1.0);
  const json& t = f["point_data"][0];
  EXPECT_EQ(t["name"], "temperature");
  EXPECT_EQ(t["type"], "float32");
  EXPECT_EQ(t["nan"], 1);
  EXPECT_EQ(t["min"], 0.0);
  EXPECT_EQ(t["max"], 11.0);
  EXPECT_DOUBLE_EQ(t["mean"].get<double>(), (66.0 - 3.0) / 11.0);
  EXPECT_EQ(f["cell_data"][0]["min"], -2.0);
  EXPECT_EQ(f["field_strings"]["material"], "IN718");
}

TEST(InfoCli, SurfaceMeshReportsArea) {
  ScratchDir dir;
  Mesh m;
  m.points.resize(4, 3);
  m.points << 0, 0, 0, 2, 0, 0, 2, 3, 0, 0, 3, 0;
  m.add_cell(CellType::Quad, {0, 1, 2, 3});
  write_mesh(m, dir / "q.vtp");
  const CliResult r = run(dir, "info --json " + (dir / "q.vtp").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out)["files"][0];
  EXPECT_DOUBLE_EQ(j["area"].get<double>(), 6.0);
  EXPECT_FALSE(j.contains("volume"));
}

TEST(InfoCli, SeriesReportsEachStep) {
  ScratchDir dir;
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "a.vtu");
  write_vtu(hex_grid(2, 1, 1, 1.0), dir / "b.vtu");
  write_pvd(dir / "s.pvd", {0.0, 2.5}, {"a.vtu", "b.vtu"});
  const CliResult r = run(dir, "info --json " + (dir / "s.pvd").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json steps = json::parse(r.out)["files"][0]["steps"];
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1]["time"], 2.5);
  EXPECT_EQ(steps[1]["cells"], 2);
  const CliResult text = run(dir, "info " + (dir / "s.pvd").string());
  EXPECT_NE(text.out.find("series of 2 steps"), std::string::npos) << text.out;
}

TEST(InfoCli, BadFilesExitTwoWithOneLine) {
  ScratchDir dir;
  write_vtu(hex_grid(1, 1, 1, 1.0), dir / "good.vtu");
  write_text(dir / "garbage.vtu", std::string(500, '\x07'));
  std::string cut = read_bytes(dir / "good.vtu");
  write_text(dir / "cut.vtu", cut.substr(0, cut.size() - 40));
  write_text(dir / "s.pvd", "<VTKFile type=\"Collection\"><Collection><DataSet timestep=\"x\" ");
  for (const char* bad : {"garbage.vtu", "cut.vtu", "missing.vtu", "s.pvd"}) {
    SCOPED_TRACE(bad);
    expect_one_line_error(run(dir, "info " + (dir / bad).string()), (dir / bad).string());
  }
  // The first bad file is named, and no partial report is printed for the good one before it.
  const CliResult r = run(dir, "info --json " + (dir / "good.vtu").string() + " " +
                             (dir / "cut.vtu").string() + " " + (dir / "garbage.vtu").string());
  expect_one_line_error(r, (dir / "cut.vtu").string());
  EXPECT_EQ(r.err.find("garbage.vtu"), std::string::npos) << r.err;
}

TEST(InfoCli, NoFileIsAUsageError) {
  ScratchDir dir;
  const CliResult r = run(dir, "info");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("info"), std::string::npos) << r.err;
  const CliResult help = run(dir, "info --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("examples:"), std::string::npos) << help.out;
}

TEST(InfoCli, BundledExample) {
  ScratchDir dir;
  const CliResult r = run(dir, "info --json " + std::string(FLARE_SOURCE_DIR) +
                             "/examples/meshes/bracket.vtu");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out)["files"][0];
  EXPECT_EQ(j["cell_types"]["hexahedron"], j["cells"]);
  EXPECT_NEAR(j["volume"].get<double>(), 19968.0, 1e-9);
}

TEST(BenchIoCli, SmallRunPrintsTableAndAppendsJsonl) {
  ScratchDir dir;
  const auto jsonl = dir / "bench.jsonl";
  const CliResult r = run(dir, "bench io --points 1000 --reps 2 --warmup 0 --dir " + dir.path().string() +
                             " --jsonl " + jsonl.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| write_vtu |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| read_mesh |"), std::string::npos) << r.out;
  std::istringstream lines(read_bytes(jsonl));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    EXPECT_EQ(j["bench"], "io");
    EXPECT_EQ(j["result"]["points"], 1000);  // 10 × 10 × 10 nodes
    EXPECT_GT(j["result"]["mean_ms"].get<double>(), 0.0);
    ++n;
  }
  EXPECT_EQ(n, 2);
  // Only the report is left behind: the benchmark removes its mesh.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path()))
    files += e.path().extension() == ".vtu";
  EXPECT_EQ(files, 0);
}

}  // namespace
