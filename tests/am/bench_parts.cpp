// Statistics of a part family over many seeds (not a ctest: run by hand, numbers go to reports):
// how many parameter draws make_part needed, node counts, sizes, generation time, and how many
// parts have tunnels (through-holes, handles), enclosed cavities and overhangs.
//
//   build/tests/am/bench_am_parts [family=csg] [seeds=200] [nodes=5000..50000] [first_seed=0]
//
// Prints one line per seed (tab-separated) and then a summary table of percentiles.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "am/geometry.h"
#include "tests/am/voxel_topology.h"

namespace {

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::size_t(q * double(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flare::am;
  const std::string family = argc > 1 ? argv[1] : "csg";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 200;
  PartOptions opts;
  if (argc > 3) parse_node_range(argv[3], "nodes", opts);
  const std::uint64_t first = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
  std::vector<double> size, nodes, attempts, seconds, voxel;
  int tunnels = 0, cavities = 0, overhangs = 0, failed = 0, dropped = 0;
  double dropped_most = 0;  // largest share of a part's voxels dropped as islands
  int pinholes = 0;         // parts in which make_part filled a pinhole
  std::map<std::string, int> bodies, features;
  std::printf(
      "seed\tattempt\tnodes\tvoxel_mm\tsize_mm\tseconds\ttunnels\tcavities\toverhang_"
      "faces\tbody\n");
  for (int s = 0; s < seeds; ++s) {
    const std::uint64_t seed = first + std::uint64_t(s);
    const auto t0 = std::chrono::steady_clock::now();
    PartSpec p;
    try {
      p = make_part(family, seed, opts);
    } catch (const std::exception& e) {
      std::printf("%llu\tFAILED\t%s\n", (unsigned long long)seed, e.what());
      ++failed;
      continue;
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto ext = test::solid_extent(p.grid);
    const double largest = *std::max_element(ext.begin(), ext.end());
    const int cav = test::enclosed_cavities(p.grid);
    const std::int64_t holes = 1 + cav - test::euler_characteristic(p.grid);
    const std::int64_t over = test::overhang_faces(p.grid);
    const auto& q = p.params["parameters"];
    // csg: the body type; pattern: layout/kind; other families: "-".
    std::string body = q.contains("body") ? q["body"]["type"].get<std::string>() : "-";
    if (q.contains("layout"))
      body = q["layout"].get<std::string>() + (q.contains("kind") ? "/" + q["kind"].get<std::string>() : "");
    if (q.contains("features"))
      for (const auto& f : q["features"]) ++features[f["type"].get<std::string>()];
    ++bodies[body];
    size.push_back(largest), nodes.push_back(double(p.nodes)),
        attempts.push_back(p.params["attempt"].get<double>());
    seconds.push_back(sec), voxel.push_back(p.grid.voxel);
    tunnels += holes > 0, cavities += cav > 0, overhangs += over > 0;
    pinholes += p.params.contains("filled_pinhole_voxels");
    if (p.params.contains("dropped_island_voxels")) {
      const double n = p.params["dropped_island_voxels"].get<double>();
      ++dropped, dropped_most = std::max(dropped_most, n / (n + double(p.grid.count_solid())));
    }
    std::printf("%llu\t%d\t%lld\t%.3f\t%.1f\t%.2f\t%lld\t%d\t%lld\t%s\n", (unsigned long long)seed,
                p.params["attempt"].get<int>(), (long long)p.nodes, p.grid.voxel, largest, sec,
                (long long)holes, cav, (long long)over, body.c_str());
    std::fflush(stdout);
  }
  if (size.empty()) return 1;
  std::printf("\n%s, %d seeds from %llu, nodes %lld..%lld: %d failed\n", family.c_str(), seeds,
              (unsigned long long)first, (long long)opts.min_nodes, (long long)opts.max_nodes,
              failed);
  std::printf(
      "| quantity | min | p10 | median | p90 | max | mean |\n|---|---|---|---|---|---|---|\n");
  auto row = [](const char* name, const std::vector<double>& v) {
    double mean = 0;
    for (double x : v) mean += x / double(v.size());
    std::printf("| %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g |\n", name, percentile(v, 0),
                percentile(v, 0.1), percentile(v, 0.5), percentile(v, 0.9), percentile(v, 1), mean);
  };
  row("largest extent (mm)", size);
  row("nodes", nodes);
  row("voxel (mm)", voxel);
  row("attempt (0 = first draw)", attempts);
  row("seconds", seconds);
  const int n = int(size.size());
  int retried = 0;
  for (double a : attempts) retried += a > 0;
  std::printf("\nretried: %d of %d; with tunnels: %d, enclosed cavities: %d, overhangs: %d\n",
              retried, n, tunnels, cavities, overhangs);
  std::printf("islands dropped in %d parts, at most %.2g%% of a part's voxels; pinholes filled in %d\n", dropped,
              100 * dropped_most, pinholes);
  std::printf("bodies:");
  for (const auto& [k, v] : bodies) std::printf(" %s %d", k.c_str(), v);
  std::printf("\nfeatures:");
  for (const auto& [k, v] : features) std::printf(" %s %d", k.c_str(), v);
  std::printf("\n");
  return 0;
}
