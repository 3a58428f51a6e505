// flare-surrogate bench model: speed of the whole FLARE model on one mesh of N points, inference
// forward, training forward and a full training step (forward, backward, AdamW), with GFLOP/s
// from the explicit formula in surrogate/flops.h, next to an Eigen GEMM of the same FLOP count
// measured in the same run (the machine's matrix-product yardstick, llm.c style) on the CPU.
// --device cuda runs the same Model over the CUDA op table (fp32, or bf16 activations with fp32
// master weights for --precision bf16) and reports the peak device memory of each row (the
// allocation counter of kernels/cuda: model activations, parameters, gradients, AdamW moments,
// cuBLASLt workspace and kernel scratch). --baseline puts PyTorch's times for the same N and
// precision (tests/reference/flare_model_bench_torch.py, run in the same session) and our
// speedup over them on the inference and training-step rows.
#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <type_traits>
#include <iostream>
#include <omp.h>

#include "app/bench_report.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "surrogate/flops.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"
#include "surrogate/op_profiler.h"
#include "surrogate/optimizer.h"
#ifdef FLARE_WITH_CUDA
#include "kernels/cuda/common.cuh"
#endif

namespace flare::app {
namespace {

// The rows that need the model, for activations of type A (float or Bf16; params, targets and the
// optimizer are fp32 either way). bf16 inputs are cast on the device, like the weight copy.
template <typename A>
void time_model(const surrogate::Backend& backend, const surrogate::OpTable<A, float>& ops,
                const surrogate::ParamLayout& layout, const std::vector<float>& params,
                const std::vector<float>& x, const std::vector<float>& target, std::int64_t points,
                bool recompute, bool skip_training, int warmup, int reps,
                const std::function<void()>& reset_peak,
                const std::function<double(std::int64_t)>& peak_mib,
                const std::function<void(const std::string&, const Timing&, bool, double)>& row,
                const std::function<void(const std::string&, const std::vector<surrogate::OpTime>&)>*
                    profile) {
  using surrogate::Buffer;
  const std::int64_t P = layout.size(), nx = std::int64_t(x.size());
  const std::int64_t ny = std::int64_t(target.size());
  Buffer<float> d_params(ops.mem, P, "model parameters"), d_grads(ops.mem, P, "gradients");
  Buffer<float> d_target(ops.mem, ny, "targets");
  Buffer<A> d_x(ops.mem, nx, "inputs");
  Buffer<A> d_y(ops.mem, ny, "outputs"), d_dy(ops.mem, ny, "output gradients");
  d_params.upload(params.data(), P);
  if constexpr (std::is_same_v<A, float>) {
    d_x.upload(x.data(), nx);
  } else {
    Buffer<float> d_xf(ops.mem, nx, "inputs (fp32)");
    d_xf.upload(x.data(), nx);
    ops.cast_to_act(ops.ctx, d_xf.data(), d_x.data(), nx);
    ops.mem.synchronize(ops.mem.ctx);
  }
  d_target.upload(target.data(), ny);
  const std::vector<std::int64_t> offsets = {0, points};
  // With --profile the model runs on the decorated table throughout (forwarding only while the
  // rows are timed), so the profiled runs reuse the same buffers instead of a second model's.
  surrogate::OpProfiler<A, float> profiler(ops);
  profiler.set_enabled(false);
  const surrogate::OpTable<A, float>& mops = profile ? profiler.ops() : ops;
  surrogate::Model<A, float> model(layout, mops);
  model.set_recompute(recompute);
  surrogate::AdamW opt(layout, surrogate::AdamWConfig{}, backend.ops);
  surrogate::Buffer<double> d_loss(ops.mem, 1, "loss");
  auto sync = [&] { ops.mem.synchronize(ops.mem.ctx); };
  auto mib = [&] { return peak_mib(model.buffer_bytes()); };
  auto infer = [&] {
    model.infer(d_params.data(), d_x.data(), offsets.data(), 1, d_y.data());
    sync();
  };
  auto forward = [&] {
    model.forward(d_params.data(), d_x.data(), offsets.data(), 1, d_y.data());
    sync();
  };
  auto step = [&] {
    model.forward(d_params.data(), d_x.data(), offsets.data(), 1, d_y.data());
    mops.mse_fwd(mops.ctx, d_y.data(), d_target.data(), ny, d_loss.data());
    d_dy.zero(ny);
    mops.mse_bwd(mops.ctx, d_y.data(), d_target.data(), ny, 1.0f, d_dy.data());
    d_grads.zero(P);
    model.backward(d_params.data(), d_dy.data(), d_grads.data());
    opt.step(d_params.data(), d_grads.data());
    sync();
  };

  // The peak is read after the runs (one statement each: argument order is unspecified).
  auto timed_row = [&](const std::string& what, const std::function<void()>& fn, bool train) {
    reset_peak();
    const Timing t = time_it(fn, warmup, reps);
    row(what, t, train, mib());
  };
  timed_row("inference forward", infer, false);
  if (!skip_training) {
    timed_row("training forward", forward, false);
    timed_row("training step (fwd+bwd+AdamW)", step, true);
  }
  if (profile) {
    auto profiled = [&](const std::string& phase, const std::function<void()>& fn) {
      fn();  // buffers of this phase exist before the profiled run
      profiler.reset();
      profiler.set_enabled(true);
      fn();
      profiler.set_enabled(false);
      (*profile)(phase, profiler.times());
    };
    profiled("inference", infer);
    if (!skip_training) profiled("training step", step);
  }
  std::cerr << "model activations and scratch: " << model.buffer_bytes() / (1024.0 * 1024.0)
            << " MiB\n";
}

// --baseline: the PyTorch rows (eager, torch.compile) for this N and precision. Checked before
// anything is timed, so a mismatch costs nothing.
std::vector<OrderedJson> read_torch_baseline(const std::string& path,
                                             const surrogate::ModelConfig& c,
                                             std::int64_t points, const std::string& precision) {
  if (path.empty()) return {};
  const surrogate::ModelConfig d;
  FLARE_INPUT_CHECK(c.in_dim == d.in_dim && c.out_dim == d.out_dim &&
                        c.channel_dim == d.channel_dim && c.num_blocks == d.num_blocks &&
                        c.num_heads == d.num_heads && c.num_latents == d.num_latents,
                    "bench model: --baseline ", path, " comes from "
                    "tests/reference/flare_model_bench_torch.py, which times the default model "
                    "only; drop --features/--outputs/--channels/--blocks/--heads/--latents");
  std::vector<OrderedJson> rows;
  const std::string hint = "run tests/reference/flare_model_bench_torch.py --points " +
                           std::to_string(points) + " --modes " + precision + "," + precision +
                           "-compile --out " + path + " on the same machine";
  for (const OrderedJson& j : read_jsonl(path, "bench model", hint)) {
    FLARE_INPUT_CHECK(j.contains("N") && j["N"].is_number_integer() && j.contains("mode") &&
                          j["mode"].is_string(),
                      "bench model: ", path, " has a line without an integer \"N\" and a string "
                      "\"mode\" (", hint, ")");
    const std::string mode = j["mode"];
    if (j["N"].get<std::int64_t>() == points && (mode == precision || mode == precision + "-compile"))
      rows.push_back(j);
  }
  FLARE_INPUT_CHECK(!rows.empty(), "bench model: ", path, " has no PyTorch row for N = ", points,
                    " in ", precision, " (", hint, ")");
  return rows;
}

// PyTorch's time and peak memory for one of our rows, and our speedup ("inference" or "train
// step" in the baseline's keys; a null time is a PyTorch out-of-memory).
void add_torch_columns(OrderedJson& row, const std::vector<OrderedJson>& base,
                       const std::string& key, double our_ms) {
  for (const OrderedJson& b : base) {
    const std::string mode = b["mode"];
    const std::string ms = key + " ms", gib = key + " peak GiB";
    if (!b.contains(ms)) continue;
    if (b[ms].is_null()) {
      row["torch " + mode + " ms"] = "out of memory";
      continue;
    }
    row["torch " + mode + " ms"] = b[ms].get<double>();
    if (b.contains(gib) && b[gib].is_number())
      row["torch " + mode + " peak_MiB"] = b[gib].get<double>() * 1024.0;
    row["speedup vs torch " + mode] = b[ms].get<double>() / our_ms;
  }
}

int bench_model(const Args& args) {
  surrogate::ModelConfig c;
  std::string device = "cpu", precision = "fp32", jsonl, baseline;
  std::int64_t points = 50000;
  int warmup = 1, reps = 3;
  bool skip_training = false, recompute = false, profile = false;
  std::uint64_t seed = 0;
  po::options_description opts("options");
  opts.add_options()
      ("device", po::value(&device)->default_value(device), "cpu | cuda")
      ("precision", po::value(&precision)->default_value(precision), "fp32 | bf16 (bf16 activations, fp32 weights; needs --device cuda)")
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
      ("inference-only", po::bool_switch(&skip_training), "time inference only (meshes too large to train)")
      ("recompute", po::bool_switch(&recompute), "training with per-block activation recomputation (train --recompute)")
      ("profile", po::bool_switch(&profile), "then time each op of one inference and one training step (synchronised op by op; AdamW not included)")
      ("baseline", po::value(&baseline), "JSONL of tests/reference/flare_model_bench_torch.py (default model, same N and precision): PyTorch's times beside ours, with the speedup")
      ("jsonl", po::value(&jsonl), "append one JSON line per row to this file");
  po::variables_map vm;
  if (!parse_args("bench model", args, opts, {}, vm, "bench model [options]",
                  "  flare-surrogate bench model --device cpu\n"
                  "  flare-surrogate bench model --device cuda -n 1000000 -r 10\n"
                  "  flare-surrogate bench model --device cuda -n 1000000 --precision bf16\n"
                  "  flare-surrogate bench model --device cuda -n 4000000 --inference-only\n"
                  "  flare-surrogate bench model -n 200000 --channels 128 --latents 256 -r 5\n"
                  "  flare-surrogate bench model --device cuda -n 1000000 --precision bf16 --profile\n"
                  "  flare-surrogate bench model --jsonl bench.jsonl\n"
                  "  flare-surrogate bench model --device cuda -n 1000000 --precision bf16 --baseline torch.jsonl\n"))
    return 0;
  FLARE_INPUT_CHECK(points > 0, "bench model: --points must be positive");
  FLARE_INPUT_CHECK(reps > 0 && warmup >= 0, "bench model: need --reps > 0 and --warmup >= 0");
  c.validate();
  surrogate::check_precision(device, precision);
  if (!jsonl.empty()) check_writable(jsonl);
  const std::vector<OrderedJson> torch_rows = read_torch_baseline(baseline, c, points, precision);

  const surrogate::Backend backend = surrogate::make_backend(device, precision);
  const surrogate::OpTable<float>& ops = backend.ops;
  const bool gpu = device == "cuda";
  const surrogate::ParamLayout layout(c);
  const std::int64_t P = layout.size(), nx = points * c.in_dim, ny = points * c.out_dim;
  std::vector<float> params(P);
  layout.initialize(params.data(), seed);
  surrogate::NormalRng rng(seed + 1);
  std::vector<float> x(nx), target(ny);
  for (auto& v : x) v = float(rng.normal());
  for (auto& v : target) v = float(rng.normal());
  surrogate::check_supported(backend, c, "bench model");
#ifdef FLARE_WITH_CUDA
  std::function<void()> reset_peak = [&] { if (gpu) cuda::reset_alloc_peak(); };
  std::function<double(std::int64_t)> peak_mib = [&](std::int64_t model_bytes) {
    return gpu ? double(cuda::alloc_stats().bytes_peak) / double(1 << 20)
               : double(model_bytes) / double(1 << 20);
  };
#else
  std::function<void()> reset_peak = [] {};
  std::function<double(std::int64_t)> peak_mib = [](std::int64_t model_bytes) {
    return double(model_bytes) / double(1 << 20);
  };
#endif

  const double fwd_gflop = surrogate::forward_flops_per_point(c) * double(points) * 1e-9;
  const double train_gflop = surrogate::train_flops_per_point(c) * double(points) * 1e-9;
  OrderedJson config = {{"device", device},  {"points", points},     {"F", c.in_dim},
                        {"T", c.out_dim},     {"C", c.channel_dim},   {"L", c.num_blocks},
                        {"H", c.num_heads},   {"M", c.num_latents},   {"params", layout.size()},
                        {"threads", omp_get_max_threads()}, {"precision", precision},
                        {"recompute", recompute},
                        {"warmup", warmup},   {"reps", reps}};
  BenchReport report("model", config);
#ifdef FLARE_WITH_CUDA
  if (gpu) {
    auto* ctx = static_cast<cuda::CudaContext*>(ops.ctx);
    report.hardware()["gpu"] = cuda::device_summary(*ctx);
  }
#endif
  // Peak memory column: device bytes held at the row's high-water mark (cuda), or the model's
  // activation and scratch buffers (cpu).
  auto row = [&](const std::string& what, const Timing& t, double gflop, double mib) {
    OrderedJson r{{"what", what},
                  {"precision", precision},
                  {"mean_ms", t.mean_ms},
                  {"std_ms", t.std_ms},
                  {"min_ms", t.min_ms},
                  {"GFLOP", gflop},
                  {"GFLOP/s", gflop / (t.mean_ms * 1e-3)},
                  {"Mpoints/s", points / (t.mean_ms * 1e-3) * 1e-6},
                  {"peak_MiB", mib}};
    if (what == "inference forward") add_torch_columns(r, torch_rows, "inference", t.mean_ms);
    if (what.rfind("training step", 0) == 0)
      add_torch_columns(r, torch_rows, "train step", t.mean_ms);
    report.add(std::move(r));
  };

  auto model_row = [&](const std::string& what, const Timing& t, bool train, double mib) {
    row(what, t, train ? train_gflop : fwd_gflop, mib);
  };
  // --profile: one table of op times per phase, its rows in the JSONL as bench "model profile".
  BenchReport profile_report("model profile", config);
  profile_report.hardware() = report.hardware();
  std::function<void(const std::string&, const std::vector<surrogate::OpTime>&)> add_profile =
      [&](const std::string& phase, const std::vector<surrogate::OpTime>& times) {
        double total = 0;
        std::int64_t calls = 0;
        for (const auto& t : times) total += t.ms, calls += t.calls;
        for (const auto& t : times)
          profile_report.add(OrderedJson{{"phase", phase},
                                         {"op", t.op},
                                         {"calls", t.calls},
                                         {"ms", t.ms},
                                         {"share_%", 100.0 * t.ms / total}});
        profile_report.add(OrderedJson{
            {"phase", phase}, {"op", "(all ops)"}, {"calls", calls}, {"ms", total}, {"share_%", 100.0}});
      };
  const auto* profile_sink = profile ? &add_profile : nullptr;
  if (backend.bf16())
    time_model<surrogate::Bf16>(backend, backend.ops_bf16, layout, params, x, target, points,
                                recompute, skip_training, warmup, reps, reset_peak, peak_mib,
                                model_row, profile_sink);
  else
    time_model<float>(backend, ops, layout, params, x, target, points, recompute, skip_training,
                      warmup, reps, reset_peak, peak_mib, model_row, profile_sink);

  if (!gpu) {
    // Yardstick: one square Eigen GEMM with the forward's FLOP count (2·n³ = forward FLOPs).
    const int n = std::max(1, int(std::lround(std::cbrt(fwd_gflop * 1e9 / 2.0))));
    Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), out(n, n);
    row("Eigen GEMM " + std::to_string(n) + "³ (same FLOPs as forward)",
        time_it([&] { out.noalias() = a * b; }, warmup, reps), 2.0 * double(n) * n * n * 1e-9,
        0.0);
  }

  report.print_markdown(std::cout);
  if (profile) profile_report.print_markdown(std::cout);
  if (!jsonl.empty()) {
    report.append_jsonl(jsonl);
    if (profile) profile_report.append_jsonl(jsonl);
  }
  return 0;
}

FLARE_COMMAND("bench model", "time the FLARE model (inference, training step) on cpu or cuda",
              bench_model);

}  // namespace
}  // namespace flare::app
