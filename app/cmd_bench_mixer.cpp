// `flare-surrogate bench mixer`: times the CUDA FLARE mixer (forward, forward+backward) over a grid
// of sizes, beside the device's measured copy bandwidth and, when given, a PyTorch baseline
// (tests/reference/flare_mixer_torch.py writes it). Compiled only with the CUDA backend.
#ifdef FLARE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <sstream>
#include <tuple>

#include "app/bench_report.h"
#include "app/command.h"
#include "kernels/cuda/fill.cuh"
#include "kernels/cuda/flare_mixer.cuh"

namespace flare::app {
namespace {

using cuda::bf16;
using cuda::CudaContext;
using cuda::DeviceBuffer;

std::vector<std::int64_t> parse_list(const std::string& what, const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    try {
      std::size_t used = 0;
      double v = std::stod(tok, &used);
      FLARE_INPUT_CHECK(used == tok.size() && v > 0, "");
      out.push_back(std::int64_t(v));
    } catch (const std::exception&) {
      throw InputError("bench mixer: --" + what + " must be a comma-separated list of positive "
                       "numbers (e.g. 50000,1e6), got '" + s + "'");
    }
  }
  FLARE_INPUT_CHECK(!out.empty(), "bench mixer: --", what, " is empty");
  return out;
}

/// Median milliseconds of `reps` runs of fn timed with CUDA events, after `warmup` runs.
Timing time_gpu(CudaContext& ctx, const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  cudaEvent_t a, b;
  FLARE_CUDA_CHECK(cudaEventCreate(&a));
  FLARE_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    FLARE_CUDA_CHECK(cudaEventRecord(a, ctx.stream()));
    fn();
    FLARE_CUDA_CHECK(cudaEventRecord(b, ctx.stream()));
    FLARE_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0;
    FLARE_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return samples_to_timing(std::move(ms));
}

/// Device-to-device copy bandwidth (bytes read + written per second), the roofline's memory term.
double measure_copy_gbs(CudaContext& ctx) {
  const std::size_t bytes = std::size_t(1) << 30;
  DeviceBuffer<std::byte> src(bytes, "bandwidth probe"), dst(bytes, "bandwidth probe");
  FLARE_CUDA_CHECK(cudaMemsetAsync(src.data(), 1, bytes, ctx.stream()));
  Timing t = time_gpu(ctx, [&] {
    FLARE_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice,
                                     ctx.stream()));
  }, 3, 10);
  return 2.0 * bytes / (t.median_ms * 1e-3) / 1e9;
}

// PyTorch baseline rows keyed by (N, H, D, M): {eager fwd, eager fwd+bwd, compiled fwd, compiled fwd+bwd}.
using BaselineKey = std::tuple<std::int64_t, int, int, int>;
std::map<BaselineKey, OrderedJson> read_baseline(const std::string& path) {
  std::map<BaselineKey, OrderedJson> out;
  if (path.empty()) return out;
  for (const OrderedJson& j :
       read_jsonl(path, "bench mixer", "run tests/reference/flare_mixer_torch.py first")) {
    for (const char* k : {"N", "H", "D", "M"})
      FLARE_INPUT_CHECK(j.contains(k) && j[k].is_number_integer(), "bench mixer: ", path,
                        " has a line without an integer \"", k, "\" (not flare_mixer_torch.py output?)");
    BaselineKey k{j["N"].get<std::int64_t>(), j["H"].get<int>(), j["D"].get<int>(),
                  j["M"].get<int>()};
    for (auto it = j.begin(); it != j.end(); ++it) out[k][it.key()] = it.value();
  }
  return out;
}

template <typename T>
OrderedJson bench_one(CudaContext& ctx, std::int64_t N, int H, int D, int M, bool tensor_cores,
                      bool tensor_core_bwd, int warmup, int reps, double copy_gbs) {
  const std::int64_t NC = N * H * D;
  cuda::reset_alloc_peak();
  const auto held_before = cuda::alloc_stats().bytes_now;
  DeviceBuffer<std::int64_t> offsets;
  offsets.upload(std::vector<std::int64_t>{0, N}, ctx.stream());
  DeviceBuffer<float> Q(std::size_t(H) * M * D, "Q"), Z(std::size_t(H) * M * D, "Z"),
      lse_e(std::size_t(H) * M, "lse"), lse_d(std::size_t(N) * H, "lse"),
      dQ(std::size_t(H) * M * D, "dQ"), dZ(std::size_t(H) * M * D, "dZ");
  DeviceBuffer<T> K(NC, "K"), V(NC, "V"), Y(NC, "Y"), dY(NC, "dY"), dK(NC, "dK"), dV(NC, "dV");
  cuda::fill_random<float>(ctx, Q.data(), Q.size(), 1, 0.5f);
  cuda::fill_random<T>(ctx, K.data(), NC, 2, 1.f);
  cuda::fill_random<T>(ctx, V.data(), NC, 3, 1.f);
  cuda::fill_random<T>(ctx, dY.data(), NC, 4, 1.f);
  cuda::fill_random<float>(ctx, dQ.data(), dQ.size(), 5, 1.f);
  cuda::fill_random<T>(ctx, dK.data(), NC, 6, 1.f);
  cuda::fill_random<T>(ctx, dV.data(), NC, 7, 1.f);
  cuda::PackedBatch batch{offsets.data(), 1, N, N};
  cuda::MixerShape shape{H, M, D, 1.f, tensor_cores, tensor_core_bwd};
  auto fwd = [&] {
    cuda::flare_encode_fwd<T>(ctx, Q.data(), K.data(), V.data(), batch, shape, Z.data(),
                              lse_e.data());
    cuda::flare_decode_fwd<T>(ctx, Q.data(), K.data(), Z.data(), batch, shape, Y.data(),
                              lse_d.data());
  };
  auto fwdbwd = [&] {
    fwd();
    cuda::flare_mixer_bwd<T>(ctx, Q.data(), K.data(), V.data(), Z.data(), lse_e.data(),
                             lse_d.data(), dY.data(), batch, shape, dQ.data(), dK.data(),
                             dV.data(), dZ.data());
  };
  const Timing tf = time_gpu(ctx, fwd, warmup, reps);
  const Timing tb = time_gpu(ctx, fwdbwd, warmup, reps);
  const double peak_gib = (cuda::alloc_stats().bytes_peak - held_before) / double(1ull << 30);

  // Fewest bytes: forward reads K, V and writes Y; backward reads K, V, dY and read-modify-writes
  // dK, dV (the += contract: 4 more). FLOPs: 4·N·H·M·D per stage forward (QKᵀ and PV), backward 2.5x
  // forward (flash-attention's count: recomputed scores, dP, dS·K, dS·Q, Pᵀ·dY).
  const double sz = sizeof(T);
  const double bytes_f = 3.0 * NC * sz;
  const double bytes_fb = bytes_f + 7.0 * NC * sz;
  const double flops_f = 8.0 * double(N) * H * M * D;
  const double flops_fb = 3.5 * flops_f;
  OrderedJson row;
  row["precision"] = std::is_same_v<T, bf16> ? "bf16" : "fp32";
  constexpr bool kBf16 = std::is_same_v<T, bf16>;
  row["kernels"] = !cuda::mixer_uses_tensor_cores(shape, kBf16)              ? "v1"
                   : cuda::mixer_bwd_uses_tensor_cores(ctx, shape, kBf16) ? "v2 (tensor-core fwd+bwd)"
                                                                          : "v2f (tensor-core fwd, v1 bwd)";
  row["N"] = N;
  row["H"] = H;
  row["D"] = D;
  row["M"] = M;
  row["fwd ms"] = tf.median_ms;
  row["fwd GB/s"] = bytes_f / (tf.median_ms * 1e-3) / 1e9;
  row["fwd %HBM"] = 100.0 * bytes_f / (tf.median_ms * 1e-3) / 1e9 / copy_gbs;
  row["fwd TFLOP/s"] = flops_f / (tf.median_ms * 1e-3) / 1e12;
  row["fwd+bwd ms"] = tb.median_ms;
  row["fwd+bwd GB/s"] = bytes_fb / (tb.median_ms * 1e-3) / 1e9;
  row["fwd+bwd %HBM"] = 100.0 * bytes_fb / (tb.median_ms * 1e-3) / 1e9 / copy_gbs;
  row["fwd+bwd TFLOP/s"] = flops_fb / (tb.median_ms * 1e-3) / 1e12;
  row["peak GiB"] = peak_gib;
  row["fwd σ ms"] = tf.std_ms;
  row["fwd+bwd σ ms"] = tb.std_ms;
  return row;
}

int run_bench_mixer(const Args& args) {
  po::options_description opts("options");
  std::string device, points, dims, latents, precisions, jsonl, baseline, versions;
  int heads = 8, warmup = 3, reps = 10;
  opts.add_options()
      ("device", po::value(&device)->default_value("cuda"), "cuda (the CPU mixer is timed by its own tier)")
      ("points", po::value(&points)->default_value("50000,250000,1000000,4000000"), "N values")
      ("heads", po::value(&heads)->default_value(8), "H")
      ("head-dims", po::value(&dims)->default_value("8,32"), "D values (8, 16, 32, 64)")
      ("latents", po::value(&latents)->default_value("64,256"), "M values")
      ("precision", po::value(&precisions)->default_value("bf16,fp32"), "bf16 and/or fp32")
      ("warmup", po::value(&warmup)->default_value(3), "untimed runs per case")
      ("reps", po::value(&reps)->default_value(10), "timed runs per case (median reported)")
      ("kernels", po::value(&versions)->default_value("v2"), "comma list of v2 (bf16 forward and backward on tensor cores), v2f (tensor-core forward, CUDA-core backward), v1 (CUDA cores)")
      ("jsonl", po::value(&jsonl), "append one JSON line per row to this file")
      ("baseline", po::value(&baseline), "PyTorch baseline JSONL from tests/reference/flare_mixer_torch.py");
  po::variables_map vm;
  if (!parse_args("bench mixer", args, opts, {}, vm, "bench mixer [options]",
                  "  flare-surrogate bench mixer --device cuda\n"
                  "  flare-surrogate bench mixer --points 1e6 --head-dims 32 --latents 64 --precision bf16\n"
                  "  python3 tests/reference/flare_mixer_torch.py --out torch.jsonl && \\\n"
                  "    flare-surrogate bench mixer --baseline torch.jsonl --jsonl mixer.jsonl"))
    return 0;
  FLARE_INPUT_CHECK(device == "cuda", "bench mixer: --device must be cuda (got '", device, "')");
  FLARE_INPUT_CHECK(heads >= 1 && warmup >= 0 && reps >= 1, "bench mixer: need --heads >= 1, --reps >= 1");
  const auto Ns = parse_list("points", points);
  const auto Ds = parse_list("head-dims", dims);
  const auto Ms = parse_list("latents", latents);
  std::vector<std::string> precs;
  {
    std::stringstream ss(precisions);
    std::string p;
    while (std::getline(ss, p, ',')) {
      FLARE_INPUT_CHECK(p == "bf16" || p == "fp32", "bench mixer: --precision takes bf16,fp32; got '", p, "'");
      precs.push_back(p);
    }
  }
  const auto base = read_baseline(baseline);
  bool use_v2 = false, use_v2f = false, use_v1 = false;
  {
    std::stringstream ss(versions);
    std::string v;
    while (std::getline(ss, v, ',')) {
      FLARE_INPUT_CHECK(v == "v2" || v == "v2f" || v == "v1",
                        "bench mixer: --kernels takes a comma list of v2, v2f, v1; got '", v, "'");
      (v == "v2" ? use_v2 : v == "v2f" ? use_v2f : use_v1) = true;
    }
  }
  FLARE_INPUT_CHECK(use_v2 || use_v2f || use_v1, "bench mixer: --kernels is empty");
  FLARE_INPUT_CHECK(cuda::cuda_available(), "bench mixer: no CUDA device is visible on this machine");

  const int fp32_variant = use_v2 ? 2 : use_v2f ? 1 : 0;
  CudaContext ctx;
  const double copy_gbs = measure_copy_gbs(ctx);
  OrderedJson config{{"device", "cuda"}, {"heads", heads}, {"warmup", warmup}, {"reps", reps},
                     {"scale", 1.0}, {"copy GB/s", copy_gbs}};
  BenchReport report("mixer", config);
  report.hardware()["gpu"] = cuda::device_summary(ctx);
  std::cerr << "device-to-device copy: " << copy_gbs << " GB/s (read + write)\n";
  for (const auto& prec : precs)
    for (auto D : Ds)
      for (auto M : Ms)
        for (auto N : Ns) {
          for (int variant : {2, 1, 0}) {  // v2, v2f, v1
          if (!(variant == 2 ? use_v2 : variant == 1 ? use_v2f : use_v1)) continue;
          if (prec == "fp32" && variant != fp32_variant) continue;  // fp32 always runs v1: one row
          const bool tc = variant != 0, tc_bwd = variant == 2;
          OrderedJson row = prec == "bf16"
                                ? bench_one<bf16>(ctx, N, heads, int(D), int(M), tc, tc_bwd, warmup, reps, copy_gbs)
                                : bench_one<float>(ctx, N, heads, int(D), int(M), tc, tc_bwd, warmup, reps, copy_gbs);
          auto it = base.find({N, heads, int(D), int(M)});
          if (prec == "bf16" && it != base.end()) {
            const auto& b = it->second;
            for (const char* mode : {"eager", "compile"}) {
              const std::string f = std::string(mode) + " fwd ms", fb = std::string(mode) + " fwd+bwd ms";
              if (b.contains(f)) {
                row["torch " + f] = b[f];
                row["speedup fwd vs " + std::string(mode)] = b[f].get<double>() / row["fwd ms"].get<double>();
              }
              if (b.contains(fb)) {
                row["torch " + fb] = b[fb];
                row["speedup fwd+bwd vs " + std::string(mode)] = b[fb].get<double>() / row["fwd+bwd ms"].get<double>();
              }
            }
          }
          std::cerr << "  " << row.dump() << "\n";
          report.add(std::move(row));
          }
        }
  report.print_markdown(std::cout);
  if (!jsonl.empty()) report.append_jsonl(jsonl);
  return 0;
}

FLARE_COMMAND("bench mixer", "time the CUDA FLARE mixer (forward, forward+backward) vs PyTorch",
              run_bench_mixer);

}  // namespace
}  // namespace flare::app

#endif  // FLARE_WITH_CUDA
