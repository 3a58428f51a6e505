// What ParaView users get from `predict` on an example part: the arrays ParaView needs, read back
// with python3-vtk9 (VTK's own reader, as ParaView uses), and the pictures of
// examples/paraview/render_vtk.py (python3-vtk9) and show_prediction.py (pvpython). A tool that
// is absent skips its test with the package to install; the model is trained here in seconds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/cli.h"

namespace fs = std::filesystem;
using nlohmann::json;
using flare::test::shell_quoted;
using flare::test::run_command;

namespace {

std::string source(const std::string& rel) { return (fs::path(FLARE_SOURCE_DIR) / rel).string(); }

// A python3 that can `import vtk` (Debian's python3-vtk9 is in the system python, which a pyenv or
// venv python3 earlier on the PATH does not see); FLARE_VTK_PYTHON overrides. Empty: none.
const std::string& vtk_python() {
  static const std::string found = [] {
    std::vector<std::string> candidates = {"python3", "/usr/bin/python3"};
    if (const char* env = std::getenv("FLARE_VTK_PYTHON")) candidates.insert(candidates.begin(), env);
    for (const auto& py : candidates)
      if (run_command(shell_quoted(py) + " -c 'import vtk'").code == 0) return py;
    return std::string();
  }();
  return found;
}

// Prefix that gives a command an X display: none when there is one, xvfb-run otherwise. Empty
// optional-like: nullptr when neither exists.
const char* display_prefix() {
  const char* d = std::getenv("DISPLAY");
  if (d && *d) return "";
  if (run_command("command -v xvfb-run").code == 0) return "xvfb-run -a ";
  return nullptr;
}

json run_json(const std::string& cmd) {
  const auto r = run_command(cmd);
  EXPECT_EQ(r.code, 0) << cmd << "\n" << r.out;
  const auto start = r.out.rfind("\n{");
  const std::string text = start == std::string::npos ? r.out : r.out.substr(start + 1);
  return json::parse(text, nullptr, false);
}

// Width and height from a PNG's IHDR chunk; {0, 0} when the file is not a PNG.
std::pair<int, int> png_size(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  unsigned char h[24] = {};
  in.read(reinterpret_cast<char*>(h), sizeof h);
  const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (!in || !std::equal(sig, sig + 8, h)) return {0, 0};
  auto be32 = [&](int o) { return int(h[o]) << 24 | int(h[o + 1]) << 16 | int(h[o + 2]) << 8 | int(h[o + 3]); };
  return {be32(16), be32(20)};
}

class PredictionViews : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / "flare_test_prediction_views";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string b = FLARE_BINARY;
    // A tiny model on three example parts, then a prediction on the fourth (the user STL).
    auto r = run_command(b + " dataset build " + shell_quoted(source("examples/lpbf/bracket.vtu")) + " " +
                         shell_quoted(source("examples/lpbf/cantilever.vtu")) + " " +
                         shell_quoted(source("examples/lpbf/overhang.vtu")) + " -o " + p("data.h5") +
                         " --target displacement --split 0.34,0.33,0.33");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run_command(b + " train --data " + p("data.h5") + " -o " + p("model.h5") +
                    " --epochs 1 -C 8 -L 1 -H 2 -M 4");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run_command(b + " predict " + shell_quoted(source("examples/lpbf/blade.vtu")) + " -m " +
                    p("model.h5") + " -o " + p("blade_pred.vtu"));
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string p(const std::string& rel) { return shell_quoted((dir / rel).string()); }
  static fs::path path(const std::string& rel) { return dir / rel; }

  // Checks a rendered picture: the asked size, and (with python3-vtk9) a part drawn in each half.
  static void expect_side_by_side_png(const fs::path& png, int w, int h) {
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_EQ(png_size(png), std::make_pair(w, h)) << png;
    if (vtk_python().empty()) return;
    const json s = run_json(shell_quoted(vtk_python()) + " " + shell_quoted(source("tests/examples/png_stats.py")) +
                            " " + shell_quoted(png.string()));
    ASSERT_TRUE(s.is_object());
    EXPECT_GT(s["colours"].get<int>(), 20) << s;  // a colour map, not a blank or flat image
    for (const char* half : {"left_filled", "right_filled"}) {
      EXPECT_GT(s[half].get<double>(), 0.03) << half << " " << s;  // the part is in both halves
      EXPECT_LT(s[half].get<double>(), 0.9) << half << " " << s;   // and fits in it
    }
  }
};
fs::path PredictionViews::dir;

TEST_F(PredictionViews, OutputHasTheArraysParaViewNeeds) {
  if (vtk_python().empty())
    GTEST_SKIP() << "python3-vtk9 is not installed (apt-get install python3-vtk9, or set "
                    "FLARE_VTK_PYTHON to a python that can import vtk)";
  const json f = run_json(shell_quoted(vtk_python()) + " " + shell_quoted(source("tests/examples/inspect_prediction.py")) +
                          " " + shell_quoted(path("blade_pred.vtu").string()) + " " +
                          shell_quoted(source("examples/lpbf/blade.vtu")) + " displacement");
  ASSERT_TRUE(f.is_object());
  EXPECT_EQ(f["points"], f["input_points"]);
  EXPECT_EQ(f["cells"], f["input_cells"]);
  EXPECT_EQ(f["points_moved"].get<double>(), 0.0);  // the mesh is unwarped: ParaView warps it
  const json& a = f["arrays"];
  EXPECT_EQ(a.value("displacement_pred", 0), 3) << a;  // a vector: Warp By Vector works on it
  EXPECT_EQ(a.value("displacement_pred_magnitude", 0), 1) << a;
  EXPECT_EQ(a.value("displacement_error", 0), 3) << a;  // the truth was in the input
  EXPECT_EQ(a.value("displacement", 0), 3) << a;        // input arrays are kept
  EXPECT_TRUE(f["finite"].get<bool>());
  EXPECT_GT(f["largest_prediction"].get<double>(), 0.0);
  EXPECT_LT(f["magnitude_gap"].get<double>(), 1e-5 * (1 + f["largest_prediction"].get<double>()));
  EXPECT_LT(f["error_gap"].get<double>(), 1e-5);
}

TEST_F(PredictionViews, RenderVtkDrawsPredictionAndTruthSideBySide) {
  if (vtk_python().empty()) GTEST_SKIP() << "python3-vtk9 is not installed (apt-get install python3-vtk9)";
  const char* prefix = display_prefix();
  if (!prefix) GTEST_SKIP() << "no X display and no xvfb-run (apt-get install xvfb) to render with";
  const auto r = run_command(prefix + shell_quoted(vtk_python()) + " " + shell_quoted(source("examples/paraview/render_vtk.py")) +
                             " " + p("blade_pred.vtu") + " -o " + p("vtk.png") + " --size 640 320");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 view(s)"), std::string::npos) << r.out;
  expect_side_by_side_png(path("vtk.png"), 640, 320);
}

TEST_F(PredictionViews, RenderVtkRefusesAFileWithoutAPrediction) {
  if (vtk_python().empty()) GTEST_SKIP() << "python3-vtk9 is not installed (apt-get install python3-vtk9)";
  const auto r = run_command(shell_quoted(vtk_python()) + " " + shell_quoted(source("examples/paraview/render_vtk.py")) +
                             " " + shell_quoted(source("examples/lpbf/blade.vtu")) + " -o " + p("none.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("displacement_pred"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("none.png")));
}

// pvpython comes with Debian's python3-paraview, which cannot be installed next to libvtk9-dev
// (the packages conflict), so this runs where ParaView is installed; FLARE_PVPYTHON picks one.
TEST_F(PredictionViews, ShowPredictionWithParaView) {
  std::string pvpython = std::getenv("FLARE_PVPYTHON") ? std::getenv("FLARE_PVPYTHON") : "";
  if (pvpython.empty() && run_command("command -v pvpython").code == 0) pvpython = "pvpython";
  if (pvpython.empty()) GTEST_SKIP() << "pvpython is not on the PATH (ParaView's python3-paraview; or set FLARE_PVPYTHON)";
  const char* prefix = display_prefix();
  if (!prefix) GTEST_SKIP() << "no X display and no xvfb-run (apt-get install xvfb) to render with";
  const auto r = run_command(prefix + shell_quoted(pvpython) + " " + shell_quoted(source("examples/paraview/show_prediction.py")) +
                             " " + p("blade_pred.vtu") + " -o " + p("pv.png") + " --size 640 320");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 view(s)"), std::string::npos) << r.out;
  expect_side_by_side_png(path("pv.png"), 640, 320);
}

}  // namespace
