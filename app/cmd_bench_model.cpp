// flare-surrogate bench model: speed of the whole FLARE model on one mesh of N points, inference
// forward, training forward and a full training step (forward, backward, AdamW), with GFLOP/s
// from the explicit formula in surrogate/flops.h, next to an Eigen GEMM of the same FLOP count
// measured in the same run (the machine's matrix-product yardstick, llm.c style).
#include <Eigen/Core>
#include <cmath>
#include <iostream>
#include <omp.h>

#include "app/bench_report.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "surrogate/flops.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"
#include "surrogate/optimizer.h"

namespace flare::app {
namespace {

int bench_model(const Args& args) {
  surrogate::ModelConfig c;
  std::string device = "cpu", jsonl;
  std::int64_t points = 50000;
  int warmup = 1, reps = 3;
  std::uint64_t seed = 0;
  po::options_description opts("options");
  opts.add_options()
      ("device", po::value(&device)->default_value(device), "cpu (the CUDA backend has its own bench)")
      ("points,n", po::value(&points)->default_value(points), "points N of the one mesh")
      ("features", po::value(&c.in_dim)->default_value(c.in_dim), "input features F")
      ("outputs", po::value(&c.out_dim)->default_value(c.out_dim), "output fields T")
      ("channels", po::value(&c.channel_dim)->default_value(c.channel_dim), "channels C")
      ("blocks", po::value(&c.num_blocks)->default_value(c.num_blocks), "blocks L")
      ("heads", po::value(&c.num_heads)->default_value(c.num_heads), "heads H")
      ("latents", po::value(&c.num_latents)->default_value(c.num_latents), "latents M per head")
      ("warmup", po::value(&warmup)->default_value(warmup), "untimed runs before timing")
      ("reps,r", po::value(&reps)->default_value(reps), "timed repetitions")
      ("seed", po::value(&seed)->default_value(seed), "parameter and input seed")
      ("jsonl", po::value(&jsonl), "append one JSON line per row to this file");
  po::variables_map vm;
  if (!parse_args("bench model", args, opts, {}, vm, "bench model [options]",
                  "  flare-surrogate bench model --device cpu\n"
                  "  flare-surrogate bench model -n 200000 --channels 128 --latents 256 -r 5\n"
                  "  flare-surrogate bench model --jsonl bench.jsonl\n"))
    return 0;
  FLARE_INPUT_CHECK(device == "cpu", "bench model: --device '", device,
                    "' is not available here; use --device cpu");
  FLARE_INPUT_CHECK(points > 0, "bench model: --points must be positive");
  FLARE_INPUT_CHECK(reps > 0 && warmup >= 0, "bench model: need --reps > 0 and --warmup >= 0");
  c.validate();
  if (!jsonl.empty()) check_writable(jsonl);

  const surrogate::ParamLayout layout(c);
  std::vector<float> params(layout.size()), grads(layout.size());
  layout.initialize(params.data(), seed);
  surrogate::NormalRng rng(seed + 1);
  std::vector<float> x(points * c.in_dim), target(points * c.out_dim), y(target.size()),
      dy(target.size());
  for (auto& v : x) v = float(rng.normal());
  for (auto& v : target) v = float(rng.normal());
  const std::vector<std::int64_t> offsets = {0, points};
  surrogate::Model<float> model(layout, surrogate::cpu_ops());
  surrogate::AdamW opt(layout, surrogate::AdamWConfig{});

  const double fwd_gflop = surrogate::forward_flops_per_point(c) * double(points) * 1e-9;
  const double train_gflop = surrogate::train_flops_per_point(c) * double(points) * 1e-9;
  OrderedJson config = {{"device", device},  {"points", points},     {"F", c.in_dim},
                        {"T", c.out_dim},     {"C", c.channel_dim},   {"L", c.num_blocks},
                        {"H", c.num_heads},   {"M", c.num_latents},   {"params", layout.size()},
                        {"threads", omp_get_max_threads()}, {"precision", "fp32"},
                        {"warmup", warmup},   {"reps", reps}};
  BenchReport report("model", config);
  auto row = [&](const std::string& what, const Timing& t, double gflop) {
    report.add(OrderedJson{{"what", what},
                           {"mean_ms", t.mean_ms},
                           {"std_ms", t.std_ms},
                           {"min_ms", t.min_ms},
                           {"GFLOP", gflop},
                           {"GFLOP/s", gflop / (t.mean_ms * 1e-3)},
                           {"Mpoints/s", points / (t.mean_ms * 1e-3) * 1e-6}});
  };

  row("inference forward",
      time_it([&] { model.infer(params.data(), x.data(), offsets.data(), 1, y.data()); }, warmup, reps),
      fwd_gflop);
  row("training forward",
      time_it([&] { model.forward(params.data(), x.data(), offsets.data(), 1, y.data()); }, warmup, reps),
      fwd_gflop);
  row("training step (fwd+bwd+AdamW)",
      time_it(
          [&] {
            model.forward(params.data(), x.data(), offsets.data(), 1, y.data());
            surrogate::mse_loss(y.data(), target.data(), points * c.out_dim, dy.data());
            std::fill(grads.begin(), grads.end(), 0.0f);
            model.backward(params.data(), dy.data(), grads.data());
            opt.step(params.data(), grads.data());
          },
          warmup, reps),
      train_gflop);

  // Yardstick: one square Eigen GEMM with the forward's FLOP count (2·n³ = forward FLOPs).
  const int n = std::max(1, int(std::lround(std::cbrt(fwd_gflop * 1e9 / 2.0))));
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), out(n, n);
  row("Eigen GEMM " + std::to_string(n) + "³ (same FLOPs as forward)",
      time_it([&] { out.noalias() = a * b; }, warmup, reps), 2.0 * double(n) * n * n * 1e-9);

  std::cerr << "activations and scratch: " << model.buffer_bytes() / (1024.0 * 1024.0) << " MiB\n";
  report.print_markdown(std::cout);
  if (!jsonl.empty()) report.append_jsonl(jsonl);
  return 0;
}

FLARE_COMMAND("bench model", "time the FLARE model (inference, training step) with GFLOP/s", bench_model);

}  // namespace
}  // namespace flare::app
