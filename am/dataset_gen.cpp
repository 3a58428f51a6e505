#include "am/dataset_gen.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>
#include <memory>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <optional>
#include <sstream>

#include "am/coarse_solve.h"
#include "am/rng.h"
#include "am/simulate.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "mesh/io.h"

namespace flare::am {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kGenerator = "flare-surrogate am dataset";

// The dataset's layering as written into every sample ("10 groups", "0.5 mm").
std::string layering(const DatasetOptions& opts) {
  std::ostringstream s;
  if (opts.layers > 0) s << opts.layers << " groups";
  else s << opts.layer_height << " mm";
  if (opts.supports) s << ", supports";
  return s.str();
}

// A sample file made with other options: stops the whole run (mixing would corrupt the dataset),
// unlike a sample that fails on its own, which is recorded and skipped.
class ForeignSample : public InputError {
 public:
  using InputError::InputError;
};

std::string sample_file(int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "sample_%05d.vtu", index);
  return buf;
}

const std::vector<std::string>& families_of(const DatasetOptions& opts) {
  return opts.families.empty() ? part_families() : opts.families;
}

std::string field(const mesh::Mesh& m, const std::string& key) {
  auto it = m.field_strings.find(key);
  return it == m.field_strings.end() ? std::string() : it->second;
}

// A finished sample on disk: parses, has the displacement field, and was made by this dataset.
// Returns false for anything unreadable (it is regenerated); throws for a sample of another
// dataset, which must not be mixed in silently.
bool load_finished(const DatasetOptions& opts, const fs::path& path, SampleRecord& rec) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  mesh::Mesh m;
  try {
    m = mesh::read_mesh(path);
  } catch (const InputError&) {
    return false;
  }
  const mesh::DataArray* u = m.point_data.find("displacement");
  if (!u || u->components() != 3 || field(m, "generator") != kGenerator) return false;
  // A dataset that gained --coarse-field, or whose field was made another way (the two diagonal
  // lattices before session 21): its older samples are solved again.
  const mesh::DataArray* coarse = m.point_data.find(kCoarseField);
  if (opts.coarse_field &&
      (!coarse || coarse->components() != 3 || field(m, "coarse_field") != kCoarseFieldMethod))
    return false;
  const std::string want_seed = std::to_string(opts.seed), want_layering = layering(opts);
  // Samples written before layer heights existed carry only layer_groups (K slabs).
  const std::string has_layering = field(m, "layering").empty() ? field(m, "layer_groups") + " groups"
                                                                  : field(m, "layering");
  if (field(m, "dataset_seed") != want_seed || field(m, "material") != opts.material ||
      has_layering != want_layering)
    throw ForeignSample(detail::concat(
        path.string(), ": belongs to another dataset (seed ", field(m, "dataset_seed"), ", material ",
        field(m, "material"), ", layering ", has_layering, "; this run: seed ", want_seed,
        ", material ", opts.material, ", layering ", want_layering,
        "); use another --out folder or the same options"));
  if (field(m, "family") != rec.family || field(m, "part_seed") != std::to_string(rec.part_seed))
    return false;  // made by an older generator version: regenerate
  try {
    rec.params = json::parse(field(m, "parameters"));
    rec.solve_seconds = std::stod(field(m, "solve_seconds"));
    rec.cg_iterations = std::stol(field(m, "cg_iterations"));
  } catch (const std::exception&) {
    return false;
  }
  rec.nodes = m.num_points();
  rec.elements = m.num_cells();
  rec.voxel = rec.params.value("voxel", 0.0);
  rec.reused = true;
  return true;
}

SimulationOptions simulation_options(const DatasetOptions& opts, const Material& material) {
  SimulationOptions sim;
  sim.material = material;
  if (opts.layers > 0) sim.layer_groups = opts.layers;
  else sim.layer_height = opts.layer_height;
  sim.device = opts.device;
  sim.supports = opts.supports;
  sim.rtol = opts.rtol;
  sim.coarse_rtol = opts.coarse_rtol;
  return sim;
}

// The part of a planned sample, as a hex mesh ready to simulate.
mesh::Mesh make_part_mesh(const DatasetOptions& opts, SampleRecord& rec) {
  PartSpec spec = make_part(rec.family, rec.part_seed, opts.part);
  rec.params = spec.params;
  rec.voxel = spec.grid.voxel;
  return voxel_mesh(spec.grid);
}

void write_sample(const DatasetOptions& opts, SampleRecord& rec, mesh::Mesh& part, const SimulationReport& r) {
  rec.nodes = part.num_points();
  rec.elements = part.num_cells();
  rec.solve_seconds = r.seconds;
  rec.cg_iterations = r.cg_iterations;
  part.field_strings["generator"] = kGenerator;
  part.field_strings["family"] = rec.family;
  part.field_strings["parameters"] = rec.params.dump();
  part.field_strings["part_seed"] = std::to_string(rec.part_seed);
  part.field_strings["dataset_seed"] = std::to_string(opts.seed);
  part.field_strings["sample_index"] = std::to_string(rec.index);
  part.field_strings["split"] = rec.split;
  part.field_strings["material"] = opts.material;
  part.field_strings["layer_groups"] = std::to_string(opts.layers);
  part.field_strings["layering"] = layering(opts);
  part.field_strings["solve_seconds"] = std::to_string(r.seconds);
  part.field_strings["cg_iterations"] = std::to_string(r.cg_iterations);
  if (opts.coarse_field) part.field_strings["coarse_field"] = kCoarseFieldMethod;
  mesh::write_vtu(part, opts.out / rec.file);
}

void make_sample(const DatasetOptions& opts, const Material& material, SampleRecord& rec) {
  mesh::Mesh part = make_part_mesh(opts, rec);
  SimulationOptions sim = simulation_options(opts, material);
  const SimulationReport r = simulate(part, sim);
  if (opts.coarse_field) put_coarse_field(part, coarse_solve(part, sim, kCoarseFactor, rec.file));
  write_sample(opts, rec, part, r);
}

// GPU generation: worker threads make parts and write solved ones; solver threads (gpu_streams,
// each with its own CUDA stream) solve the parts that wait, together, in batches of up to
// batch_nodes nodes (the GPU is efficient only when a launch covers many parts). A batch iterates
// until its slowest part converges, so several smaller batches at once waste less than one large
// one (measured: docs/architecture.md). Workers prefer writing to making, so memory stays bounded.
// Voxel layers of a voxel-mesh part (its height over its voxel size).
double layers_of(const mesh::Mesh& part) {
  const double h = part.field_data.has("voxel_size") ? part.field_data.get("voxel_size", "part").get(0) : 1.0;
  return (part.points.col(2).maxCoeff() - part.points.col(2).minCoeff()) / h;
}

class GpuPipeline {
 public:
  struct Item {
    SampleRecord rec;
    mesh::Mesh part;
    SimulationReport report;
    double layers = 0;  ///< voxel layers of the part, the batching key (set by submit)
    /// --coarse-field: the part's coarse lattices, solved in the same batch (kCoarseFactor).
    CoarseMeshes coarse;
    std::int64_t nodes() const {
      std::int64_t n = part.num_points();
      for (const mesh::Mesh& m : coarse.meshes) n += m.num_points();
      return n;
    }
  };

  GpuPipeline(const DatasetOptions& opts, const SimulationOptions& sim, int workers)
      : m_opts(opts), m_sim(sim), m_capacity(std::size_t(std::max(256, 16 * workers))) {
    const char* prof = std::getenv("FLARE_LATTICE_PROFILE");
    m_profile = prof && prof[0] == '1';
    m_start = std::chrono::steady_clock::now();
    for (int i = 0; i < std::max(1, opts.gpu_streams); ++i) m_solvers.emplace_back([this] { solve_loop(); });
  }
  ~GpuPipeline() {
    {
      std::lock_guard<std::mutex> g(m_lock);
      m_closing = true;
    }
    m_cv.notify_all();
    for (std::thread& t : m_solvers)
      if (t.joinable()) t.join();
    // Where a dataset's time goes: solvers that wait for parts are starved by the workers.
    if (m_profile)
      std::fprintf(stderr, "dataset profile: %d batches on %zu streams in %.1f s, solvers busy %.1f s, waiting for parts %.1f s\n",
                   m_batches, m_solvers.size(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count(), m_solving,
                   m_waited);
  }

  /// Blocks while the queue of unsolved parts is full.
  void submit(Item item) {
    item.layers = layers_of(item.part);  // once, outside the lock: the batcher sorts by it
    std::unique_lock<std::mutex> g(m_lock);
    m_cv.wait(g, [&] { return m_waiting.size() < m_capacity; });
    m_waiting.push_back(std::move(item));
    m_cv.notify_all();
  }
  /// A solved part, if any.
  std::optional<Item> take_solved() {
    std::lock_guard<std::mutex> g(m_lock);
    if (m_solved.empty()) return std::nullopt;
    Item it = std::move(m_solved.front());
    m_solved.pop_front();
    m_cv.notify_all();
    return it;
  }
  /// The workers have submitted everything: solve what is left, then stop.
  void producers_done() {
    std::lock_guard<std::mutex> g(m_lock);
    m_producers_done = true;
    m_cv.notify_all();
  }
  /// Waits for the next solved part; nullopt when everything submitted has been handed out.
  std::optional<Item> wait_solved() {
    std::unique_lock<std::mutex> g(m_lock);
    m_cv.wait(g, [&] { return !m_solved.empty() || (m_producers_done && m_waiting.empty() && m_busy == 0); });
    if (m_solved.empty()) return std::nullopt;
    Item it = std::move(m_solved.front());
    m_solved.pop_front();
    m_cv.notify_all();
    return it;
  }

 private:
  void solve_loop() {
    for (;;) {
      std::vector<Item> batch;
      const auto t_wait = std::chrono::steady_clock::now();
      {
        std::unique_lock<std::mutex> g(m_lock);
        // Wait for a full batch, the end of production, or a pause in arrivals with work queued.
        for (;;) {
          std::int64_t nodes = 0;
          for (const Item& it : m_waiting) nodes += it.nodes();
          if (m_closing && m_waiting.empty()) return;
          if (nodes >= m_opts.batch_nodes || m_waiting.size() >= m_capacity ||
              ((m_producers_done || m_closing) && !m_waiting.empty()))
            break;
          if (m_cv.wait_for(g, std::chrono::milliseconds(200)) == std::cv_status::timeout && !m_waiting.empty())
            break;
        }
        // A batch runs as many layer groups as its tallest part: parts of similar height (in
        // voxel layers) go together, so short parts do not wait through a tall one's groups.
        std::stable_sort(m_waiting.begin(), m_waiting.end(),
                         [](const Item& a, const Item& b) { return a.layers < b.layers; });
        std::int64_t nodes = 0;
        while (!m_waiting.empty() && (batch.empty() || nodes + m_waiting.front().nodes() <= m_opts.batch_nodes)) {
          nodes += m_waiting.front().nodes();
          batch.push_back(std::move(m_waiting.front()));
          m_waiting.pop_front();
        }
        ++m_busy;
        m_cv.notify_all();
      }
      const auto t_solve = std::chrono::steady_clock::now();
      solve(batch);
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_solve).count();
      std::lock_guard<std::mutex> g(m_lock);
      m_waited += std::chrono::duration<double>(t_solve - t_wait).count();
      m_solving += dt;
      ++m_batches;
      if (m_profile) {
        std::int64_t nodes = 0;
        for (const Item& it : batch) nodes += it.nodes();
        std::fprintf(stderr, "dataset profile: batch of %zu parts, %lld nodes, layers %.0f..%.0f: %.2f s\n",
                     batch.size(), static_cast<long long>(nodes), batch.front().layers, batch.back().layers, dt);
      }
      for (Item& it : batch) m_solved.push_back(std::move(it));
      --m_busy;
      m_cv.notify_all();
    }
  }

  // One batch; if it fails, each part alone, so the failure is recorded on the part that caused it.
  void solve(std::vector<Item>& batch) {
    std::vector<BatchPart> parts;
    for (Item& it : batch) parts.push_back({&it.part, (m_opts.out / it.rec.file).string(), 0.0});
    for (Item& it : batch)
      it.coarse.add_to_batch(parts, (m_opts.out / it.rec.file).string(), m_sim.coarse_rtol);
    try {
      const std::vector<SimulationReport> r = simulate_batch(parts, m_sim);
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].report = r[i];
      return;
    } catch (const std::exception& e) {
      if (batch.size() == 1) {
        batch[0].rec.error = e.what();
        return;
      }
    }
    for (Item& it : batch) {
      std::vector<Item> one;
      one.push_back(std::move(it));
      solve(one);
      it = std::move(one[0]);
    }
  }

  const DatasetOptions& m_opts;
  SimulationOptions m_sim;
  const std::size_t m_capacity;
  std::mutex m_lock;
  std::condition_variable m_cv;
  std::deque<Item> m_waiting, m_solved;
  bool m_closing = false, m_producers_done = false;
  int m_busy = 0;  // batches being solved
  bool m_profile = false;
  std::chrono::steady_clock::time_point m_start;
  double m_waited = 0, m_solving = 0;  // summed over the solver threads
  int m_batches = 0;
  std::vector<std::thread> m_solvers;
};

std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_manifest(const DatasetOptions& opts, const DatasetReport& report) {
  json j;
  j["format"] = kGenerator;
  j["version"] = 1;
  j["seed"] = opts.seed;
  j["count"] = opts.count;
  j["material"] = opts.material;
  j["layer_groups"] = opts.layers;
  j["layering"] = layering(opts);
  j["coarse_field"] = opts.coarse_field;
  j["rtol"] = opts.rtol;
  j["nodes"] = {{"min", opts.part.min_nodes}, {"max", opts.part.max_nodes}};
  if (opts.part.voxel > 0) j["voxel"] = opts.part.voxel;
  j["families"] = families_of(opts);
  j["splits"] = {{"train", json::array()}, {"val", json::array()}, {"test", json::array()}};
  j["samples"] = json::array();
  for (const SampleRecord& r : report.samples) {
    if (r.file.empty()) continue;  // an index of a split that was not asked for (--splits)
    json s = {{"index", r.index},         {"file", r.file},       {"family", r.family},
              {"split", r.split},         {"part_seed", r.part_seed}, {"nodes", r.nodes},
              {"elements", r.elements},   {"voxel", r.voxel},     {"solve_seconds", r.solve_seconds},
              {"cg_iterations", r.cg_iterations}, {"parameters", r.params}};
    if (!r.error.empty()) s["error"] = r.error;
    else j["splits"][r.split].push_back(r.file);
    j["samples"].push_back(std::move(s));
  }
  write_atomically(opts.out / "manifest.json", [&](const fs::path& tmp) {
    std::ofstream f(tmp);
    f << j.dump(2) << "\n";
    FLARE_CHECK(f.good(), "could not write ", tmp.string());
  });
  write_atomically(opts.out / "manifest.csv", [&](const fs::path& tmp) {
    std::ofstream f(tmp);
    f << "index,file,family,split,part_seed,nodes,elements,voxel,solve_seconds,cg_iterations,error,parameters\n";
    for (const SampleRecord& r : report.samples)
      if (!r.file.empty())
        f << r.index << ',' << r.file << ',' << r.family << ',' << r.split << ',' << r.part_seed << ','
        << r.nodes << ',' << r.elements << ',' << r.voxel << ',' << r.solve_seconds << ','
        << r.cg_iterations << ',' << csv_quote(r.error) << ',' << csv_quote(r.params.dump()) << "\n";
    FLARE_CHECK(f.good(), "could not write ", tmp.string());
  });
}

// Temporaries of a run that was killed (write_atomically names them .<stem>.tmp<pid>_<n>.vtu).
void remove_stale_temporaries(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".sample_", 0) == 0 && name.find(".tmp") != std::string::npos) {
      std::error_code ec;
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

std::string split_of(std::uint64_t seed, int index) {
  int order[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  Rng rng(sub_seed(seed ^ 0x5EB1175EB1175ull, std::uint64_t(index / 10)));
  for (int i = 9; i > 0; --i) std::swap(order[i], order[rng.integer(0, i)]);
  const int role = order[index % 10];
  return role == 0 ? "test" : role == 1 ? "val" : "train";
}

SampleRecord plan_sample(const DatasetOptions& opts, int index) {
  const auto& families = families_of(opts);
  FLARE_CHECK(!families.empty(), "no part families");
  // Families added later are drawn in a second step: first one of the original families exactly
  // as before they existed, then, with probability (later ones)/(all), a later family instead.
  // Every entry still has probability 1/size, and a list that gains a later family keeps the
  // family and part seed of every sample that does not become one of its parts.
  std::vector<std::size_t> original, later;
  for (std::size_t i = 0; i < families.size(); ++i) (family_added_later(families[i]) ? later : original).push_back(i);
  Rng rng(sub_seed(opts.seed, std::uint64_t(index)));
  SampleRecord r;
  r.index = index;
  r.file = sample_file(index);
  if (!original.empty()) r.family = families[original[std::size_t(rng.integer(0, int(original.size()) - 1))]];
  r.part_seed = rng.next();
  if (!later.empty() && (original.empty() || rng.uniform() * double(families.size()) < double(later.size())))
    r.family = families[later[std::size_t(rng.integer(0, int(later.size()) - 1))]];
  r.split = split_of(opts.seed, index);
  return r;
}

DatasetReport generate_dataset(const DatasetOptions& requested,
                               const std::function<void(const SampleRecord&)>& on_sample) {
  DatasetOptions opts = requested;
  FLARE_INPUT_CHECK(opts.count >= 1, "am dataset: --count must be at least 1 (got ", opts.count, ")");
  FLARE_INPUT_CHECK(opts.jobs >= 1, "am dataset: --jobs must be at least 1 (got ", opts.jobs, ")");
  FLARE_INPUT_CHECK(opts.layers >= 0, "am dataset: --layers must be at least 1 (got ", opts.layers, ")");
  FLARE_INPUT_CHECK(opts.layers > 0 || (opts.layer_height > 0 && std::isfinite(opts.layer_height)),
                    "am dataset: --layer-height must be a positive length in mm (got ", opts.layer_height, ")");
  FLARE_INPUT_CHECK(opts.device == "cpu" || opts.device == "cuda" || opts.device == "lattice-host",
                    "am dataset: --device must be cpu or cuda (got '", opts.device, "')");
  FLARE_INPUT_CHECK(opts.batch_nodes >= 1, "am dataset: --batch-nodes must be positive");
  FLARE_INPUT_CHECK(opts.gpu_streams >= 1 && opts.gpu_streams <= 64, "am dataset: --gpu-streams must be 1..64");
  FLARE_INPUT_CHECK(opts.count <= 99999, "am dataset: --count ", opts.count,
                    " is above 99999 (sample names have five digits); split into several folders");
  const Material material = material_by_name(opts.material);
  opts.material = material.name;  // canonical spelling: "Ti64" and "ti64" are the same dataset
  for (const std::string& sp : opts.splits)
    FLARE_INPUT_CHECK(sp == "train" || sp == "val" || sp == "test", "am dataset: --splits: unknown split '",
                      sp, "' (use train, val, test)");
  for (const std::string& f : opts.families)
    FLARE_INPUT_CHECK(std::find(part_families().begin(), part_families().end(), f) != part_families().end(),
                      "am dataset: unknown part family '", f, "' (see 'flare-surrogate am part --family list')");
  std::error_code ec;
  fs::create_directories(opts.out, ec);
  FLARE_INPUT_CHECK(fs::is_directory(opts.out), opts.out.string(),
                    ": cannot create the output folder (", ec.message(), ")");
  check_writable(opts.out / "manifest.json");
  remove_stale_temporaries(opts.out);

  DatasetReport report;
  report.samples.resize(std::size_t(opts.count));
  const int jobs = std::min(opts.jobs, opts.count);
  const int threads_each = std::max(1, int(std::thread::hardware_concurrency()) / jobs);
  std::atomic<int> next{0};
  std::atomic<bool> abort{false};
  std::exception_ptr fatal;
  std::mutex lock;
  const auto start = std::chrono::steady_clock::now();
  Progress progress(opts.count, "am dataset", "parts");

  const bool gpu = opts.device != "cpu";
  std::unique_ptr<GpuPipeline> pipe;
  if (gpu) pipe = std::make_unique<GpuPipeline>(opts, simulation_options(opts, material), jobs);
  std::atomic<int> producing{jobs};

  auto record = [&](const SampleRecord& rec) {
    std::lock_guard<std::mutex> g(lock);
    report.samples[std::size_t(rec.index)] = rec;
    (rec.error.empty() ? (rec.reused ? report.reused : report.generated) : report.failed)++;
    if (!rec.error.empty()) progress.println("sample " + std::to_string(rec.index) + " failed: " + rec.error);
    progress.set_postfix(std::to_string(report.reused) + " reused, " + std::to_string(report.failed) + " failed");
    progress.advance();
    if (on_sample) on_sample(rec);
  };
  auto write_solved = [&](GpuPipeline::Item& it) {
    if (it.rec.error.empty()) {
      try {
        if (opts.coarse_field) put_coarse_field(it.part, combine_coarse(it.coarse, it.part));
        write_sample(opts, it.rec, it.part, it.report);
      } catch (const std::exception& e) {
        it.rec.error = e.what();
      }
    }
    record(it.rec);
  };
  auto worker = [&] {
    omp_set_num_threads(gpu ? 1 : threads_each);
    for (int i = next++; i < opts.count && !abort; i = next++) {
      SampleRecord rec = plan_sample(opts, i);
      if (!opts.splits.empty() &&
          std::find(opts.splits.begin(), opts.splits.end(), rec.split) == opts.splits.end()) {
        std::lock_guard<std::mutex> g(lock);
        progress.advance();
        continue;
      }
      try {
        if (load_finished(opts, opts.out / rec.file, rec)) {
          record(rec);
          continue;
        }
        if (!gpu) {
          make_sample(opts, material, rec);
        } else {
          while (auto solved = pipe->take_solved()) write_solved(*solved);  // writing frees memory
          GpuPipeline::Item item;
          item.rec = rec;
          item.part = make_part_mesh(opts, item.rec);
          if (opts.coarse_field) item.coarse = coarse_meshes(item.part, kCoarseFactor, rec.file);
          pipe->submit(std::move(item));
          continue;
        }
      } catch (const ForeignSample&) {
        std::lock_guard<std::mutex> g(lock);
        if (!fatal) fatal = std::current_exception();
        abort = true;
        break;
      } catch (const std::exception& e) {
        rec.error = e.what();
      }
      record(rec);
    }
    if (gpu) {
      if (--producing == 0) pipe->producers_done();
      while (auto solved = pipe->wait_solved()) write_solved(*solved);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < jobs; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  pipe.reset();
  progress.finish();
  if (fatal) std::rethrow_exception(fatal);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_manifest(opts, report);
  return report;
}

}  // namespace flare::am
