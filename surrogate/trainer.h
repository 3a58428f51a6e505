// Training loop (flare.md "training recipe"): packed batches of train meshes in a seeded per-epoch
// order, normalised features and targets (train statistics), Model forward/backward, AdamW with a
// scheduled learning rate, validation relative L2 in target units, metrics JSONL, and checkpoints
// that resume exactly.
//
// Checkpoints: `out` holds the parameters with the best validation rel-L2 so far (the last ones
// when the dataset has no validation split); `<out-stem>.last.h5` holds the full state (params,
// AdamW moments and step, epoch, position in the epoch, best so far, the effective options) every
// checkpoint_every steps, on interruption and at the end. The epoch's data order is a function of
// (seed, epoch) only, so resuming needs no RNG state.
//
// With ema > 0 (FLARE.py's EMA) a moving average of the weights is updated after every optimizer
// step; validation, hence `out`, uses it, and the checkpoints' params/ are the average (what eval
// and predict load) while `.last.h5` keeps the optimizer's own weights in optimizer/params.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "surrogate/config.h"

namespace flare::surrogate {

struct TrainOptions {
  std::filesystem::path data;     ///< dataset .h5 (surrogate/dataset.h)
  std::filesystem::path out;      ///< best checkpoint; the full state goes to last_path(out)
  std::filesystem::path metrics;  ///< JSONL file, empty = none
  int epochs = 100;
  int batch_size = 1;             ///< meshes per step, packed
  double lr = 1e-3;               ///< peak learning rate
  std::string schedule = "onecycle";  ///< onecycle | cosine | constant
  std::int64_t warmup = 0;        ///< warmup steps (cosine)
  double pct_start = 0.3;         ///< onecycle: fraction of the steps with a rising lr
  double div_factor = 25;         ///< onecycle: initial lr = lr / div_factor
  double final_div_factor = 1e4;  ///< onecycle: final lr = initial lr / final_div_factor
  /// onecycle: β1 annealed max_momentum → base_momentum → max_momentum against the lr (torch's
  /// cycle_momentum); off: β1 = beta1 throughout.
  bool cycle_momentum = false;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double beta1 = 0.9;             ///< AdamW (unused with cycle_momentum)
  double beta2 = 0.999;           ///< AdamW
  double weight_decay = 0.0;
  double clip_norm = 0.0;         ///< global gradient-norm limit, 0 = none
  double ema = 0.0;               ///< decay of the weights' moving average, 0 = none
  /// mse (normalised targets) | rel_l2 (per mesh, of the denormalised field: the reported metric)
  /// | rel_l2_normalized (per mesh, on normalised targets: what rel_l2 meant before trajectory
  /// version 2)
  std::string loss = "mse";
  std::uint64_t seed = 0;         ///< parameter init and data order
  /// Each train part in a random one of the 8 rotations/mirrors of the square per step, seeded by
  /// (seed, epoch, sample) (surrogate/augment.h). InputError when the data cannot be rotated.
  bool augment = false;
  std::int64_t checkpoint_every = 500;  ///< steps between `last` checkpoints, 0 = only at the end
  int val_every = 1;              ///< epochs between validations
  int log_every = 10;             ///< steps per log line / metrics record
  std::int64_t stop_after = 0;    ///< stop (as if interrupted) after this many steps in this run
  bool resume = false;            ///< continue from last_path(out)
  /// Normalise with this checkpoint's statistics instead of the dataset's, when the two agree to
  /// kRebuiltDatasetTolerance (the same parts generated again): models trained in different
  /// sessions on regenerated data then share one normalizer and can form an ensemble. A resume
  /// does the same with its own checkpoint. Not part of the trajectory.
  std::filesystem::path normalizer_from;
  /// Fine-tune: start from this checkpoint's weights (the average, when it was trained with an
  /// average) and normaliser, with a fresh optimizer, schedule and step count, on a dataset that
  /// may hold other parts but computes its features with the checkpoint's recipe (`dataset build
  /// --recipe-from`). The model options must be the checkpoint's. Ignored by a resume (the state
  /// it resumes already started from it); not part of the trajectory, recorded in the training
  /// slot as "init_from".
  std::filesystem::path init_from;
  /// Which member (1..K) of an ensemble init_from starts from; 0 = not given, which a single model
  /// allows and an ensemble refuses. The members of an ensemble share its normaliser and recipe,
  /// so fine-tuning each from its own member (seeds differing) gives a new ensemble.
  int init_member = 0;
  bool recompute = false;         ///< per-block activation checkpointing (Model::set_recompute);
                                  ///< same results, so not part of the trajectory
  /// Point-sharded training (Model::set_point_shards; cpu, loss mse): every rank holds a slice of
  /// the points of every mesh of each batch of batch_size meshes, so N ranks follow the trajectory
  /// of one process with the same batch_size; not part of the trajectory either.
  bool shard_points = false;
  ModelConfig model;              ///< in_dim/out_dim are taken from the dataset
  /// cpu | cuda. Not part of the trajectory: a run started on one device resumes on the other.
  std::string device = "cpu";
  /// fp32 | bf16 (activations on the GPU; params, grads and AdamW stay fp32, so checkpoints are
  /// the same either way). Not part of the trajectory, like the device.
  std::string precision = "fp32";
  std::string command_line;       ///< provenance and the resume hint

  /// The options that fix the training trajectory (stored in checkpoints, compared on resume),
  /// with "trajectory_version" (kTrajectoryVersion).
  nlohmann::json trajectory_json() const;
};

/// 2: onecycle's pct_start, div_factor, final_div_factor and cycle_momentum, AdamW's betas and the
/// weight average became options, and loss "rel_l2" became the denormalised one. 1: no
/// "trajectory_version" key.
inline constexpr int kTrajectoryVersion = 2;

/// A checkpoint's stored trajectory in the current version's terms: the options an older one
/// lacks get the values its run used (pct_start 0.3, div_factor 25, final_div_factor 1e4, fixed
/// β = (0.9, 0.999), no average), and its loss "rel_l2" (on normalised targets) becomes
/// "rel_l2_normalized". Resuming compares the current options against this.
nlohmann::json upgraded_trajectory(const nlohmann::json& stored);

/// `<dir>/<stem>.last.h5` for `<dir>/<stem>.h5`.
std::filesystem::path last_path(const std::filesystem::path& out);

struct TrainResult {
  std::int64_t steps = 0;         ///< optimizer steps done in total (including before a resume)
  int epoch = 0;                  ///< epochs completed
  bool interrupted = false;       ///< stopped by the stop flag or stop_after
  double best_val = std::numeric_limits<double>::infinity();  ///< best val rel-L2 (inf: none)
  double last_loss = 0;           ///< mean training loss of the last log window
  double seconds = 0;             ///< wall time of this run
  std::vector<double> losses;     ///< training loss of every step of this run
  std::vector<float> params;      ///< final parameters (the optimizer's, not averaged)
  std::vector<float> ema;         ///< final moving average of params (ema > 0), else empty
  std::uint64_t checksum = 0;     ///< of params (surrogate/comm.h), checked equal on all ranks
};

/// Receives each human-readable log line.
using TrainLog = std::function<void(const std::string&)>;

class Comm;

/// Runs (or resumes) training. `stop` (may be null) is polled after every step: when set, the step
/// in flight finishes, `last` is saved and the result says interrupted. Throws InputError for bad
/// data or options, naming the file or option.
///
/// With `comm` of N > 1 ranks (surrogate/comm.h; null = one process) every rank calls train with
/// the same options and trains data-parallel (docs/distributed.md): batch_size meshes per rank, a
/// global batch of N·batch_size (the checkpoints' batch_size, so a run resumes on any N with the
/// same product), gradients summed over ranks each step, the same parameters on every rank; only
/// rank 0 logs and writes files. A failure before the first step is reported by one rank (the
/// others throw PeerFailure); one after it becomes RankFailure, whose catcher must end the job.
/// With shard_points the ranks split the points of each mesh instead of the meshes: the global
/// batch is batch_size and validation shards every validation mesh alike.
TrainResult train(const TrainOptions& options, const TrainLog& log,
                  const std::atomic<bool>* stop = nullptr, Comm* comm = nullptr);

/// Indices 0..n-1 in the order of `epoch` (Fisher-Yates over std::mt19937_64; portable).
std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

}  // namespace flare::surrogate
