// train, eval and predict with --device cuda end to end through the CLI, against the same commands
// on the CPU. FLARE_TEST_BINARY overrides the compiled-in binary path (the GPU host runs the
// bundled binary through its wrapper: FLARE_TEST_BINARY="bundle/run flare-surrogate").
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <utility>

#include "kernels/cuda/common.cuh"
#include "mesh/io.h"
#include "surrogate/checkpoint.h"
#include "synthetic_boxes.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

namespace {

using Result = flare::test::CommandResult;
Result run(const std::string& args, bool merge_stderr = true) {
  return flare::test::run_cli(args, merge_stderr);
}

// A synthetic dataset and a part to predict in a fresh directory.
class CudaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda::cuda_available()) GTEST_SKIP() << "no CUDA device";
    dir = fs::temp_directory_path() /
          ("flare_test_cuda_cli_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    data = test::build_synthetic_dataset(dir, 12, {0.5, 0.25, 0.25});
    std::mt19937_64 rng(99);
    mesh::write_mesh(test::synthetic_box(rng), dir / "part.vtu");
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  std::string p(const std::string& f) const { return (dir / f).string(); }
  /// max |a - b| of the predicted field over two predictions of part.vtu, and max |b|.
  std::pair<double, double> field_difference(const std::string& a_vtu, const std::string& b_vtu) {
    const mesh::Mesh a = mesh::read_mesh(p(a_vtu)), b = mesh::read_mesh(p(b_vtu));
    const mesh::DataArray* fa = a.point_data.find("f_pred");
    const mesh::DataArray* fb = b.point_data.find("f_pred");
    EXPECT_TRUE(fa && fb);
    double err = 0, scale = 0;
    for (std::int64_t i = 0; fa && fb && i < a.num_points(); ++i) {
      err = std::max(err, std::fabs(fa->get(i, 0) - fb->get(i, 0)));
      scale = std::max(scale, std::fabs(fb->get(i, 0)));
    }
    return {err, scale};
  }
  fs::path dir, data;
};

}  // namespace

TEST_F(CudaCli, TrainEvalPredictMatchTheCpu) {
  const std::string model = " --epochs 3 --batch-size 2 -C 16 -L 2 -H 2 -M 8 --seed 4";
  for (const char* dev : {"cpu", "cuda"}) {
    const auto t = run("train --data " + data.string() + " -o " + p(std::string(dev) + ".h5") +
                       model + " --device " + dev);
    ASSERT_EQ(t.code, 0) << t.out;
    EXPECT_EQ(t.out.find("peak GPU memory") != std::string::npos, std::string(dev) == "cuda") << t.out;
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
                       p(std::string("pred_") + dev + ".vtu") + " --device " + dev + " --timings");
    ASSERT_EQ(r.code, 0) << r.out;
    // --timings on the GPU reports the peak of the model's device memory beside the seconds.
    std::smatch m;
    const bool gpu_row = std::regex_search(r.out, m, std::regex(R"(gpu memory peak ([0-9]+) MiB)"));
    EXPECT_EQ(gpu_row, std::string(dev) == "cuda") << r.out;
    if (gpu_row) EXPECT_GT(std::stoi(m[1]), 0) << r.out;
  }
  const auto [err, scale] = field_difference("pred_cuda.vtu", "pred_cpu.vtu");
  EXPECT_LE(err, 1e-4 * scale);

  // A head dim the CUDA mixer does not take is a one-line InputError (exit 2).
  const auto bad = run("train --data " + data.string() + " -o " + p("bad.h5") +
                       " --epochs 1 -C 12 -H 4 -L 1 -M 4 --device cuda");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("head dim"), std::string::npos) << bad.out;
}

// The reference recipe on the GPU (the denormalised rel-L2 loss with the normaliser's std and mean
// in device memory, the weight average, β1 cycling): the CPU and GPU runs agree to fp32 round-off,
// and a GPU run stopped early resumes on the CPU (the average travels in the checkpoint).
TEST_F(CudaCli, ReferenceRecipeMatchesTheCpuAndResumesAcrossDevices) {
  const std::string args =
      " --recipe reference --ema 0.9 --epochs 3 --batch-size 2 -C 16 -L 2 -H 2 "
      "-M 8 --seed 4";
  for (const char* dev : {"cpu", "cuda"}) {
    const auto t = run("train --data " + data.string() + " -o " +
                       p(std::string("ref_") + dev + ".h5") + args + " --device " + dev);
    ASSERT_EQ(t.code, 0) << t.out;
  }
  const auto c = surrogate::load_checkpoint(p("ref_cpu.last.h5"));
  const auto g = surrogate::load_checkpoint(p("ref_cuda.last.h5"));
  ASSERT_EQ(g.adam_params.size(), g.params.size());
  double d2 = 0, n2 = 0, moved2 = 0;
  for (std::size_t i = 0; i < c.params.size(); ++i) {
    d2 += std::pow(double(g.params[i]) - c.params[i], 2);
    n2 += std::pow(double(c.params[i]), 2);
    moved2 += std::pow(double(c.params[i]) - c.adam_params[i], 2);
  }
  EXPECT_LE(std::sqrt(d2), 1e-3 * std::sqrt(n2));
  EXPECT_GT(moved2, 0.0);  // the average is not the optimizer's weights
  EXPECT_NEAR(g.training.at("best_val").get<double>(), c.training.at("best_val").get<double>(),
              1e-2 * c.training.at("best_val").get<double>());

  ASSERT_EQ(run("train --data " + data.string() + " -o " + p("x.h5") + args +
                " --device cuda --stop-after 2")
                .code,
            0);
  const auto r =
      run("train --data " + data.string() + " -o " + p("x.h5") + args + " --device cpu --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto x = surrogate::load_checkpoint(p("x.last.h5"));
  d2 = 0;
  for (std::size_t i = 0; i < c.params.size(); ++i)
    d2 += std::pow(double(x.params[i]) - c.params[i], 2);
  EXPECT_LE(std::sqrt(d2), 1e-3 * std::sqrt(n2));
}

// --precision bf16 through the CLI: train in bf16 (the checkpoint is fp32 master weights), eval and
// predict the bf16-trained model in fp32 and in bf16 (close to each other, not identical), and a
// bench model row that says its precision.
TEST_F(CudaCli, Bf16TrainEvalPredictBench) {
  const auto t = run("train --data " + data.string() + " -o " + p("bf16.h5") +
                     " --epochs 3 --batch-size 2 -C 16 -L 2 -H 2 -M 16 --seed 4 --device cuda "
                     "--precision bf16 --recompute");
  ASSERT_EQ(t.code, 0) << t.out;
  auto eval = [&](const std::string& dev, const std::string& prec) {
    const auto r = run("eval -m " + p("bf16.h5") + " --data " + data.string() +
                       " --json --device " + dev + " --precision " + prec, false);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out)["summary"]["mean_rel_l2"].get<double>();
  };
  const double e16 = eval("cuda", "bf16"), e32 = eval("cuda", "fp32"), ec = eval("cpu", "fp32");
  EXPECT_NEAR(e32, ec, 1e-5 * ec);
  EXPECT_NEAR(e16, ec, 5e-2 * ec);

  for (const char* prec : {"fp32", "bf16"}) {
    const auto r = run("predict " + p("part.vtu") + " -m " + p("bf16.h5") + " -o " +
                       p(std::string("pred_") + prec + ".vtu") + " --device cuda --precision " + prec);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  const auto [err, scale] = field_difference("pred_bf16.vtu", "pred_fp32.vtu");
  EXPECT_LE(err, 5e-2 * scale);
  EXPECT_GT(err, 0.0);

  const auto bench = run("bench model --device cuda --precision bf16 -n 3000 --channels 16 --heads 2 "
                         "--latents 16 --blocks 2 --warmup 0 -r 1 --jsonl " + p("bench.jsonl"));
  ASSERT_EQ(bench.code, 0) << bench.out;
  std::ifstream in(p("bench.jsonl"));
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["config"]["precision"], "bf16");
    EXPECT_EQ(j["result"]["precision"], "bf16");
    ++rows;
  }
  EXPECT_EQ(rows, 3);
}
