// flare-surrogate bench io: time write_vtu and read_mesh on a hexahedral grid with a 3-component
// float point array (the shape of a displacement field), the I/O every predict and dataset run
// pays. Target: a 1M-point mesh written and read back in under 5 s each on a 2-core machine.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "app/bench_report.h"
#include "app/command.h"
#include "common/error.h"
#include "mesh/grid.h"
#include "mesh/io.h"

namespace {

namespace fs = std::filesystem;

int run_bench_io(const flare::app::Args& args) {
  namespace po = flare::app::po;
  po::options_description opts("options");
  opts.add_options()("points", po::value<std::int64_t>()->default_value(1000000),
                     "approximate point count (a cube of nodes: 1000000 -> 100x100x100)")(
      "reps", po::value<int>()->default_value(3), "timed repetitions")(
      "warmup", po::value<int>()->default_value(1), "untimed repetitions first")(
      "dir", po::value<std::string>()->default_value(fs::temp_directory_path().string()),
      "folder for the temporary file")(
      "jsonl", po::value<std::string>(), "append the results to this JSONL file");
  po::variables_map vm;
  if (!flare::app::parse_args("bench io", args, opts, {}, vm,
                              "bench io [--points N] [--reps R] [--jsonl FILE]",
                              "  flare-surrogate bench io\n"
                              "  flare-surrogate bench io --points 125000 --reps 5 --jsonl bench.jsonl"))
    return 0;
  const std::int64_t points = vm["points"].as<std::int64_t>();
  const int reps = vm["reps"].as<int>(), warmup = vm["warmup"].as<int>();
  FLARE_INPUT_CHECK(points >= 8, "bench io: --points must be at least 8 (got ", points, ")");
  FLARE_INPUT_CHECK(reps >= 1 && warmup >= 0, "bench io: --reps must be >= 1 and --warmup >= 0");

  const int side = std::max(2, int(std::lround(std::cbrt(double(points)))));
  flare::mesh::Mesh mesh = flare::mesh::hex_grid(side - 1, side - 1, side - 1, 1.0 / (side - 1));
  std::vector<float> field(std::size_t(mesh.num_points()) * 3);
  for (std::size_t i = 0; i < field.size(); ++i) field[i] = float(std::sin(0.001 * double(i)));
  mesh.point_data.put(flare::mesh::DataArray::from_floats("displacement", 3, field));

  const fs::path file = fs::path(vm["dir"].as<std::string>()) /
                        ("flare_bench_io_" + std::to_string(::getpid()) + ".vtu");
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(p, ec);
    }
  } cleanup{file};

  flare::app::OrderedJson config = {{"points", mesh.num_points()},
                                    {"cells", mesh.num_cells()},
                                    {"cell_type", "hexahedron"},
                                    {"arrays", "displacement float32 x3"},
                                    {"reps", reps},
                                    {"warmup", warmup}};
  flare::app::BenchReport report("io", config);

  const auto w = flare::app::time_it([&] { flare::mesh::write_vtu(mesh, file); }, warmup, reps);
  const double mb = double(fs::file_size(file)) / 1e6;
  std::int64_t read_points = 0;
  const auto r = flare::app::time_it([&] { read_points = flare::mesh::read_mesh(file).num_points(); },
                                     warmup, reps);
  FLARE_CHECK(read_points == mesh.num_points(), "bench io: read back ", read_points,
              " points, wrote ", mesh.num_points());

  auto row = [&](const char* op, const flare::app::Timing& t) {
    report.add({{"op", op},
                {"points", mesh.num_points()},
                {"file_MB", std::round(mb * 10) / 10},
                {"mean_ms", t.mean_ms},
                {"std_ms", t.std_ms},
                {"Mpoints_per_s", double(mesh.num_points()) / (t.mean_ms * 1e3)}});
  };
  row("write_vtu", w);
  row("read_mesh", r);
  report.print_markdown(std::cout);
  if (vm.count("jsonl")) report.append_jsonl(vm["jsonl"].as<std::string>());
  return 0;
}

FLARE_COMMAND("bench io", "time writing and reading a large .vtu mesh", run_bench_io);

}  // namespace
