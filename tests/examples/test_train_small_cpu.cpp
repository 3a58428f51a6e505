// examples/train_small_cpu.sh end to end, shrunk to seconds (10 tiny parts, one epoch): every step
// runs, the model and the prediction are written, and a rerun reuses the simulated parts.
#include <gtest/gtest.h>

#include <filesystem>

#include "mesh/io.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using flare::test::run_command;
using flare::test::shell_quoted;

TEST(TrainSmallCpu, RunsEveryStepAndPredictsAnExample) {
  const fs::path out = fs::temp_directory_path() / "flare_test_train_small_cpu";
  fs::remove_all(out);
  const std::string cmd = "FLARE=" + shell_quoted(FLARE_BINARY) +
                          " COUNT=10 EPOCHS=1 NODES=1000..2000 JOBS=2 " +
                          shell_quoted(std::string(FLARE_SOURCE_DIR) + "/examples/train_small_cpu.sh") +
                          " " + shell_quoted(out.string());
  auto r = run_command(cmd);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* step : {"== simulate 10 parts", "== build the dataset", "== train", "== evaluate",
                           "== predict bracket.vtu", "done in"})
    EXPECT_NE(r.out.find(step), std::string::npos) << step << "\n" << r.out;
  EXPECT_NE(r.out.find("10 generated, 0 reused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test split"), std::string::npos) << r.out;  // eval's summary line
  EXPECT_TRUE(fs::exists(out / "model.h5"));
  const flare::mesh::Mesh pred = flare::mesh::read_mesh(out / "bracket_pred.vtu");
  const flare::mesh::Mesh part = flare::mesh::read_mesh(fs::path(FLARE_SOURCE_DIR) / "examples/lpbf/bracket.vtu");
  EXPECT_EQ(pred.num_points(), part.num_points());
  ASSERT_TRUE(pred.point_data.has("displacement_pred"));
  EXPECT_EQ(pred.point_data.find("displacement_pred")->components(), 3);

  r = run_command(cmd);  // the parts are reused, the model retrained from scratch
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("0 generated, 10 reused"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("resum"), std::string::npos) << r.out;
  fs::remove_all(out);
}
