// train, eval and predict with --device cuda end to end through the CLI, against the same commands
// on the CPU. FLARE_TEST_BINARY overrides the compiled-in binary path (the GPU host runs the
// bundled binary through its wrapper: FLARE_TEST_BINARY="bundle/run flare-surrogate").
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "kernels/cuda/common.cuh"
#include "mesh/io.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args, bool merge_stderr = true) {
  return flare::test::run_cli(args, merge_stderr);
}

}  // namespace

TEST(CudaCli, TrainEvalPredictMatchTheCpu) {
  if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const fs::path dir = fs::temp_directory_path() / ("flare_test_cuda_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto p = [&](const std::string& f) { return (dir / f).string(); };
  const fs::path data = test::build_synthetic_dataset(dir, 12, {0.5, 0.25, 0.25});
  std::mt19937_64 rng(99);
  mesh::write_mesh(test::synthetic_box(rng), dir / "part.vtu");

  const std::string model = " --epochs 3 --batch-size 2 -C 16 -L 2 -H 2 -M 8 --seed 4";
  for (const char* dev : {"cpu", "cuda"}) {
    const auto t = run("train --data " + data.string() + " -o " + p(std::string(dev) + ".h5") +
                       model + " --device " + dev);
    ASSERT_EQ(t.code, 0) << t.out;
  }
  // The GPU-trained checkpoint evaluated on both devices gives the same metrics; the CPU- and
  // GPU-trained models agree to fp32 round-off accumulated over 6 steps.
  auto eval = [&](const std::string& ck, const std::string& dev) {
    const auto r = run("eval -m " + p(ck) + " --data " + data.string() + " --json --device " + dev,
                       false);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out)["summary"]["mean_rel_l2"].get<double>();
  };
  const double gg = eval("cuda.h5", "cuda"), gc = eval("cuda.h5", "cpu"), cc = eval("cpu.h5", "cpu");
  EXPECT_NEAR(gg, gc, 1e-5 * gc);
  EXPECT_NEAR(gg, cc, 1e-2 * cc);

  for (const char* dev : {"cpu", "cuda"}) {
    const auto r = run("predict " + p("part.vtu") + " -m " + p("cuda.h5") + " -o " +
                       p(std::string("pred_") + dev + ".vtu") + " --device " + dev);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  const mesh::Mesh a = mesh::read_mesh(p("pred_cuda.vtu")), b = mesh::read_mesh(p("pred_cpu.vtu"));
  const mesh::DataArray* fa = a.point_data.find("f_pred");
  const mesh::DataArray* fb = b.point_data.find("f_pred");
  ASSERT_TRUE(fa && fb);
  double err = 0, scale = 0;
  for (std::int64_t i = 0; i < a.num_points(); ++i) {
    err = std::max(err, std::fabs(fa->get(i, 0) - fb->get(i, 0)));
    scale = std::max(scale, std::fabs(fb->get(i, 0)));
  }
  EXPECT_LE(err, 1e-4 * scale);

  // A head dim the CUDA mixer does not take is a one-line InputError (exit 2).
  const auto bad = run("train --data " + data.string() + " -o " + p("bad.h5") +
                       " --epochs 1 -C 12 -H 4 -L 1 -M 4 --device cuda");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("head dim"), std::string::npos) << bad.out;
  fs::remove_all(dir);
}
