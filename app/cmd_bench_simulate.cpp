// flare-surrogate bench simulate: the process simulation's speed on one large part (layer groups
// of a fixed count and of a fixed height) and its throughput on a dataset-like batch of small
// parts, on the GPU lattice solver and, with --baseline, on the CPU solver in the same call.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

#include "am/geometry.h"
#include "am/simulate.h"
#include "am/voxel_grid.h"
#include "app/bench_report.h"
#include "app/command.h"
#include "app/gpu_memory.h"
#include "common/error.h"

#ifdef FLARE_WITH_CUDA
#include "kernels/cuda/common.cuh"
#endif

namespace {

using flare::app::OrderedJson;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double gpu_peak_gib() { return double(flare::app::gpu_peak_bytes()) / double(1 << 30); }

// f(i) for i in [0, n) on `threads` threads, each taking the next index.
template <typename F>
void on_threads(int n, int threads, const F& f) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) f(i);
    });
  for (auto& t : pool) t.join();
}

int run_bench_simulate(const flare::app::Args& args) {
  namespace po = flare::app::po;
  std::string family = "l_bracket", device = "cuda", jsonl, material = "ti64";
  std::int64_t nodes = 1000000;
  std::uint64_t seed = 0;
  int reps = 1, batch = 0, cpu_parts = 0;
  po::options_description opts("options");
  opts.add_options()("family", po::value(&family)->default_value(family), "part family of the large part")(
      "nodes", po::value(&nodes)->default_value(nodes), "node count of the large part (0: no large-part rows)")(
      "seed", po::value(&seed)->default_value(seed), "part seed")(
      "material", po::value(&material)->default_value(material), "material")(
      "layers", po::value<int>(), "a row with K layer groups per part")(
      "layer-height", po::value<double>(), "a row with layer groups of this height (mm); without --layers and "
                                           "--layer-height: 10 groups and the default height")(
      "device", po::value(&device)->default_value(device), "cuda | cpu | lattice-host")(
      "supports", po::value<std::string>()->default_value("auto"), "auto | none (am simulate --supports)")(
      "baseline", po::bool_switch(), "also time the CPU solver (all cores) on the same problems")(
      "batch", po::value(&batch)->default_value(0), "dataset rows: this many parts of 5k-30k nodes (all families)")(
      "cpu-parts", po::value(&cpu_parts)->default_value(0), "parts of the batch the CPU baseline solves (0: 2 per core)")(
      "reps", po::value(&reps)->default_value(1), "timed repetitions of the large part (median)")(
      "jsonl", po::value(&jsonl), "append the results to this JSONL file");
  po::variables_map vm;
  if (!flare::app::parse_args(
          "bench simulate", args, opts, {}, vm,
          "bench simulate [--nodes N] [--layers K] [--layer-height MM] [--batch P] [--device cuda] [--baseline]",
          "  flare-surrogate bench simulate --nodes 1000000 --baseline\n"
          "  flare-surrogate bench simulate --nodes 0 --batch 512 --baseline --jsonl bench.jsonl"))
    return 0;
  FLARE_INPUT_CHECK(reps >= 1 && batch >= 0 && nodes >= 0 && cpu_parts >= 0,
                    "bench simulate: --reps must be >= 1 and --batch, --nodes, --cpu-parts >= 0");
  FLARE_INPUT_CHECK(device == "cuda" || device == "cpu" || device == "lattice-host",
                    "bench simulate: --device must be cuda, cpu or lattice-host");
  const bool baseline = vm["baseline"].as<bool>();
  std::vector<std::pair<int, double>> layerings;  // (K, 0) or (0, height)
  if (vm.count("layers")) layerings.push_back({vm["layers"].as<int>(), 0});
  if (vm.count("layer-height")) layerings.push_back({0, vm["layer-height"].as<double>()});
  if (layerings.empty()) layerings = {{10, 0}, {0, flare::am::kDefaultLayerHeight}};
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  // Ours, then the CPU solver when asked for (the baseline row of each case).
  const std::vector<std::string> devices =
      baseline && device != "cpu" ? std::vector<std::string>{device, "cpu"} : std::vector<std::string>{device};

  OrderedJson config = {{"family", family}, {"nodes", nodes},       {"seed", seed}, {"supports", vm["supports"].as<std::string>()},
                        {"material", material}, {"device", device}, {"batch", batch},
                        {"reps", reps},         {"cpu_cores", cores}};
  flare::app::BenchReport report("simulate", config);
#ifdef FLARE_WITH_CUDA
  if (device == "cuda") {
    flare::cuda::CudaContext ctx;
    report.hardware()["gpu"] = flare::cuda::device_summary(ctx);
  }
#endif
  auto options = [&](const std::pair<int, double>& l, const std::string& dev) {
    flare::am::SimulationOptions o;
    o.material = flare::am::material_by_name(material);
    if (l.first > 0) o.layer_groups = l.first;
    o.layer_height = l.second;
    o.device = dev;
    o.supports = vm["supports"].as<std::string>() != "none";
    return o;
  };
  auto layering = [](const std::pair<int, double>& l) {
    return l.first > 0 ? std::to_string(l.first) + " groups" : flare::detail::concat(l.second, " mm");
  };

  if (nodes > 0) {
    flare::am::PartOptions po;
    po.min_nodes = std::int64_t(0.9 * double(nodes));
    po.max_nodes = std::int64_t(1.1 * double(nodes));
    std::cerr << "bench simulate: making a " << family << " part of about " << nodes << " nodes\n";
    const flare::mesh::Mesh part = flare::am::voxel_mesh(flare::am::make_part(family, seed, po).grid);
    for (const auto& l : layerings) {
      double ours = 0;
      for (const std::string& dev : devices) {
        std::vector<double> ms;
        flare::am::SimulationReport r;
        flare::app::reset_gpu_peak();
        for (int k = 0; k < (dev == "cpu" ? 1 : reps); ++k) {
          flare::mesh::Mesh m = part;
          const auto t0 = std::chrono::steady_clock::now();
          r = flare::am::simulate(m, options(l, dev));
          ms.push_back(1e3 * seconds_since(t0));
        }
        const flare::app::Timing t = flare::app::samples_to_timing(ms);
        if (dev == device) ours = t.median_ms;
        report.add({{"case", "one part"},
                    {"device", dev},
                    {"nodes", r.nodes},
                    {"layering", layering(l)},
                    {"solves", r.solves},
                    {"cg_iterations", r.cg_iterations},
                    {"median_s", t.median_ms / 1e3},
                    {"prepare_s", r.prepare_seconds},
                    {"solve_s", r.solve_seconds},
                    {"peak_gpu_GiB", dev == "cuda" ? gpu_peak_gib() : 0.0},
                    {"speedup", dev == device ? 1.0 : t.median_ms / ours}});
      }
    }
  }

  if (batch > 0) {
    // Dataset-like parts: every family, 5k-30k nodes, as `am dataset` draws them.
    flare::am::PartOptions po;
    po.min_nodes = 5000;
    po.max_nodes = 30000;
    std::vector<flare::mesh::Mesh> parts(std::size_t(batch), flare::mesh::Mesh{});
    const auto& families = flare::am::part_families();
    std::cerr << "bench simulate: making " << batch << " parts of 5k-30k nodes\n";
    on_threads(batch, cores, [&](int i) {
      parts[std::size_t(i)] = flare::am::voxel_mesh(
          flare::am::make_part(families[std::size_t(i) % families.size()], seed + std::uint64_t(i), po).grid);
    });
    std::int64_t total_nodes = 0;
    for (const auto& m : parts) total_nodes += m.num_points();
    const auto& l = layerings.back();
    double ours = 0;
    for (const std::string& dev : devices) {
      const int n = dev == "cpu" ? std::min(batch, cpu_parts > 0 ? cpu_parts : 2 * cores) : batch;
      std::vector<flare::mesh::Mesh> work(parts.begin(), parts.begin() + n);
      flare::app::reset_gpu_peak();
      long its = 0;
      const auto t0 = std::chrono::steady_clock::now();
      if (dev == "cpu") {
        // The CPU solver's best throughput: one part per core, one thread each (as am dataset).
        std::atomic<long> cg{0};
        on_threads(n, cores, [&](int i) {
          flare::am::SimulationOptions o = options(l, "cpu");
          o.threads = 1;
          cg += flare::am::simulate(work[std::size_t(i)], o).cg_iterations;
        });
        its = cg;
      } else {
        std::vector<flare::mesh::Mesh*> ptrs;
        for (auto& m : work) ptrs.push_back(&m);
        for (const auto& r : flare::am::simulate_batch(ptrs, options(l, dev))) its += r.cg_iterations;
      }
      const double s = seconds_since(t0);
      const double rate = double(n) / s;
      if (dev == device) ours = rate;
      report.add({{"case", "dataset batch"},
                  {"device", dev},
                  {"nodes", dev == device ? total_nodes : std::int64_t(0)},
                  {"layering", layering(l)},
                  {"parts", n},
                  {"cg_iterations", its},
                  {"median_s", s},
                  {"parts_per_s", rate},
                  {"peak_gpu_GiB", dev == "cuda" ? gpu_peak_gib() : 0.0},
                  {"speedup", dev == device ? 1.0 : ours / rate}});
    }
  }
  report.print_markdown(std::cout);
  if (!jsonl.empty()) report.append_jsonl(jsonl);
  return 0;
}

}  // namespace

FLARE_COMMAND("bench simulate", "time the LPBF process simulation (GPU lattice solver against the CPU solver)",
              run_bench_simulate);
