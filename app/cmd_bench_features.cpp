// `flare-surrogate bench features`: time the default feature recipe (boundary extraction, AABB
// tree, nearest-face queries) on a structured hexahedral block of about --points nodes, or on a
// mesh file (--mesh: a real part has other ties and depths than a cube).
#include <omp.h>

#include <cmath>
#include <iostream>

#include "app/bench_report.h"
#include "app/command.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/aabb_tree.h"
#include "mesh/boundary.h"
#include "mesh/features.h"
#include "mesh/grid.h"
#include "mesh/io.h"

namespace {

using namespace flare;
using flare::app::OrderedJson;

OrderedJson row(const std::string& stage, std::int64_t points, const app::Timing& t) {
  return {{"stage", stage},
          {"points", points},
          {"ms", std::round(t.mean_ms * 10) / 10},
          {"± ms", std::round(t.std_ms * 10) / 10},
          {"min ms", std::round(t.min_ms * 10) / 10},
          {"Mpoints/s", std::round(points / (t.mean_ms * 1e3) * 100) / 100}};
}

int bench_features(const app::Args& args) {
  app::po::options_description opts("options");
  std::int64_t points = 1000000;
  int reps = 3, warmup = 1;
  std::string jsonl, mesh_file;
  opts.add_options()
      ("points,n", app::po::value(&points)->default_value(points), "approximate node count (a cube of round(cbrt(N))^3 nodes)")
      ("mesh", app::po::value(&mesh_file), "time this volume mesh (.vtu ...) instead of a cube")
      ("reps,r", app::po::value(&reps)->default_value(reps), "timed repetitions")
      ("warmup,w", app::po::value(&warmup)->default_value(warmup), "untimed repetitions first")
      ("jsonl", app::po::value(&jsonl), "append results as JSON lines to this file");
  app::po::variables_map vm;
  if (!app::parse_args("bench features", args, opts, {}, vm, "bench features [options]",
                       "  flare-surrogate bench features                 # 100^3 = 1M-node hex block\n"
                       "  flare-surrogate bench features --points 125000 -r 5 --jsonl bench.jsonl\n"
                       "  flare-surrogate bench features --mesh part.vtu     # a real part\n"
                       "  OMP_NUM_THREADS=1 flare-surrogate bench features  # single-thread baseline\n"))
    return 0;
  FLARE_INPUT_CHECK(points >= 8, "bench features: --points must be at least 8");
  FLARE_INPUT_CHECK(reps >= 1 && warmup >= 0, "bench features: --reps must be >= 1, --warmup >= 0");
  if (!jsonl.empty()) check_writable(jsonl);

  const int n = std::max(2, int(std::lround(std::cbrt(double(points)))));
  mesh::Mesh m;
  if (mesh_file.empty()) {
    m = mesh::hex_grid(n - 1, n - 1, n - 1, 1.0 / (n - 1));  // unit cube
  } else {
    m = mesh::read_mesh(mesh_file);
    m.validate(mesh_file);
  }
  const mesh::FeatureRecipe recipe = mesh::FeatureRecipe::default_recipe();
  const mesh::BoundarySurface surface = mesh::extract_boundary(m);

  OrderedJson config = {{"nodes", m.num_points()},
                        {"grid", mesh_file.empty() ? std::to_string(n) + "^3" : std::string("-")},
                        {"mesh", mesh_file.empty() ? std::string("-") : mesh_file},
                        {"cells", m.num_cells()},
                        {"boundary_triangles", surface.triangles.rows()},
                        {"recipe", recipe.to_json()["features"]},
                        {"threads", omp_get_max_threads()},
                        {"reps", reps},
                        {"warmup", warmup}};
  app::BenchReport report("features", config);
  const std::int64_t np = m.num_points();
  report.add(row("boundary extraction", np,
                 app::time_it([&] { mesh::extract_boundary(m); }, warmup, reps)));
  report.add(row("AABB tree build", np, app::time_it(
      [&] { mesh::AabbTree tree(m.points, surface.triangles); }, warmup, reps)));
  report.add(row("compute_features (total)", np, app::time_it(
      [&] { mesh::compute_features(m, recipe); }, warmup, reps)));
  report.print_markdown(std::cout);
  if (!jsonl.empty()) report.append_jsonl(jsonl);
  return 0;
}

FLARE_COMMAND("bench features", "time point-feature computation on a hexahedral block or a mesh", bench_features);

}  // namespace
