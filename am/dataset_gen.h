// `am dataset`: many procedural parts, each simulated and written as DIR/sample_XXXXX.vtu, plus a
// manifest (JSON and CSV) and a train/val/test split by part.
//
// Reproducible: sample i's family, parameters and split depend only on (seed, i), never on the
// number of jobs or on which samples already exist, so a run can be resumed or extended with a
// larger --count and produces the same files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "am/geometry.h"
#include "am/simulate.h"

namespace flare::am {

struct DatasetOptions {
  std::filesystem::path out;         ///< output folder (created if missing)
  int count = 0;                     ///< samples 0..count-1
  std::uint64_t seed = 0;
  PartOptions part;                  ///< node range per part
  int jobs = 1;                      ///< worker threads; each gets cores/jobs OpenMP threads
  std::string material = "ti64";
  /// Layer groups of the simulation: K per part when > 0, else slabs of layer_height (mm).
  int layers = 0;
  double layer_height = kDefaultLayerHeight;
  bool supports = true;              ///< rigid supports under overhangs (SimulationOptions)
  /// CG relative residual of the parts' solves. Looser than `am simulate`'s 1e-8: on three parts
  /// of 12-15k nodes (csg, loft, plate; lattice-host) 1e-6 takes 27-35% fewer CG iterations and
  /// moves the displacement by 5e-6..8e-5 (relative L2), where the surrogate errs by ~0.2 and the
  /// layering alone moves it by percents (docs/layering_study.md); 1e-5 moved it by up to 1e-3.
  double rtol = 1e-6;
  std::string device = "cpu";        ///< process simulation: cpu, or cuda (batched on the GPU)
  /// cuda: parts solved together, up to this many nodes per batch (workers keep the queue full).
  std::int64_t batch_nodes = 500000;
  /// cuda: batches solved at once, each by its own thread on its own stream.
  int gpu_streams = 4;
  /// Also solve each part at twice its voxel (am/coarse_solve.h) and store that displacement as
  /// the point array displacement_coarse: the input of models that correct the coarse solve
  /// (`dataset build --inputs displacement_coarse`). The same process options as the full solve.
  bool coarse_field = false;
  /// CG relative residual of those coarse solves (SimulationOptions::coarse_rtol).
  double coarse_rtol = SimulationOptions{}.coarse_rtol;
  std::vector<std::string> families; ///< drawn from uniformly (see plan_sample); empty = all
  /// Generate only the samples of these splits ("train", "val", "test"); empty = all. The other
  /// indices keep their plan (and split), they are just not built: the held-out parts of a large
  /// dataset can be regenerated alone, e.g. to evaluate a shipped model on another machine.
  std::vector<std::string> splits;
};

/// What the manifest says about one sample.
struct SampleRecord {
  int index = 0;
  std::string file;    ///< relative to the output folder
  std::string family;
  std::string split;   ///< "train", "val" or "test"
  std::uint64_t part_seed = 0;
  nlohmann::json params;
  std::int64_t nodes = 0, elements = 0;
  double voxel = 0;
  double solve_seconds = 0;
  long cg_iterations = 0;
  bool reused = false;   ///< found finished on disk (resume)
  std::string error;     ///< non-empty when the sample failed
};

struct DatasetReport {
  std::vector<SampleRecord> samples;
  int generated = 0, reused = 0, failed = 0;
  double seconds = 0;
};

/// The plan for sample `index`: family, part seed and split (no geometry is built). Each family
/// entry has the same probability; entries of families added later (family_added_later) are
/// drawn after the original ones, so a family list that gains one keeps the plan of every sample
/// that does not become one of its parts.
SampleRecord plan_sample(const DatasetOptions& opts, int index);

/// "train" for 8, "val" for 1, "test" for 1 of every block of ten consecutive samples (which ones
/// is drawn from the seed): exact 80/10/10 for whole blocks, and a sample's split never changes
/// when --count grows.
std::string split_of(std::uint64_t seed, int index);

/// Generates the dataset; skips samples whose file exists, parses and belongs to this dataset
/// (same seed, material and layering; a file from other options is an InputError rather than
/// silently mixed in). With device "cuda", `jobs` threads make and write parts while one thread
/// solves them on the GPU in batches of up to batch_nodes nodes. Writes manifest.json and manifest.csv at the end. `on_sample` (called
/// under a lock) sees each finished record.
DatasetReport generate_dataset(const DatasetOptions& opts,
                               const std::function<void(const SampleRecord&)>& on_sample = {});

}  // namespace flare::am
