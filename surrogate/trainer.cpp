#include "surrogate/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <optional>
#include <random>
#include <sstream>
#include <type_traits>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "surrogate/augment.h"
#include "surrogate/checkpoint.h"
#include "surrogate/comm.h"
#include "surrogate/dataset.h"
#include "surrogate/evaluate.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"
#include "surrogate/normalizer.h"
#include "surrogate/optimizer.h"
#include "surrogate/schedule.h"
#include "surrogate/train_samples.h"
#include "surrogate/widen_inputs.h"

namespace flare::surrogate {

namespace fs = std::filesystem;
using Json = nlohmann::json;

nlohmann::json TrainOptions::trajectory_json() const {
  Json j = {{"trajectory_version", kTrajectoryVersion},
            {"data", data.string()},
            {"epochs", epochs},
            {"batch_size", batch_size},
            {"lr", lr},
            {"schedule", schedule},
            {"warmup", warmup},
            {"pct_start", pct_start},
            {"div_factor", div_factor},
            {"final_div_factor", final_div_factor},
            {"cycle_momentum", cycle_momentum},
            {"base_momentum", base_momentum},
            {"max_momentum", max_momentum},
            {"beta1", beta1},
            {"beta2", beta2},
            {"weight_decay", weight_decay},
            {"clip_norm", clip_norm},
            {"ema", ema},
            {"loss", loss},
            {"seed", seed},
            {"val_every", val_every},
            {"model", surrogate::to_json(model)}};
  // Only when on: checkpoints written before the option existed still resume.
  if (augment) j["augment"] = true;
  return j;
}

nlohmann::json upgraded_trajectory(const nlohmann::json& stored) {
  Json t = stored;
  if (!t.is_object() || t.contains("trajectory_version")) return t;
  // Version 1: these were fixed at TrainOptions' defaults of the time (which are still today's).
  const TrainOptions v1;
  for (const char* key : {"pct_start", "div_factor", "final_div_factor", "cycle_momentum",
                          "base_momentum", "max_momentum", "beta1", "beta2", "ema"})
    if (!t.contains(key)) t[key] = v1.trajectory_json().at(key);
  if (t.value("loss", std::string()) == "rel_l2") t["loss"] = "rel_l2_normalized";
  t["trajectory_version"] = kTrajectoryVersion;
  return t;
}

fs::path last_path(const fs::path& out) {
  return out.parent_path() / (out.stem().string() + ".last.h5");
}

std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::int64_t> order(n);
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  // One generator per epoch, seeded from (seed, epoch): a resumed run rebuilds the order without
  // any saved RNG state. Modulo draws are slightly biased but identical on every platform, unlike
  // std::uniform_int_distribution.
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + std::uint64_t(epoch) + 1);
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng() % std::uint64_t(i + 1)]);
  return order;
}

namespace {

std::string fmt(double v, int prec = 4, bool sci = false) {
  std::ostringstream s;
  if (sci) s << std::scientific;
  else s << std::fixed;
  s.precision(prec);
  s << v;
  return s.str();
}

// State that a checkpoint carries beyond params and AdamW moments.
struct LoopState {
  std::int64_t step = 0;    // optimizer steps done
  int epoch = 0;            // current epoch (0-based)
  std::int64_t position = 0;  // batches done in the current epoch
  double best_val = std::numeric_limits<double>::infinity();
  std::int64_t best_step = -1;
};

// The model ops of the backend's precision: A = float or Bf16 (params are fp32 either way).
template <typename A>
const OpTable<A, float>& model_ops(const Backend& b) {
  if constexpr (std::is_same_v<A, float>)
    return b.ops;
  else
    return b.ops_bf16;
}

template <typename A>
TrainResult train_in(const TrainOptions& opt, const TrainLog& log, const std::atomic<bool>* stop,
                     Comm& comm, bool& setup_done);

}  // namespace

TrainResult train(const TrainOptions& opt, const TrainLog& log, const std::atomic<bool>* stop,
                  Comm* comm) {
  LocalComm alone;
  Comm& c = comm ? *comm : alone;
  // A failure before the first step (options, dataset, checkpoint, GPU) is agreed on by all ranks,
  // so it is reported once and no rank waits for the failed one in a collective. train_in sets
  // setup_done just before its own (successful) side of that agreement.
  bool setup_done = false;
  try {
    // Checked first: a bf16 run on the cpu fails before the dataset is read.
    check_precision(opt.device, opt.precision);
    return opt.precision == "bf16" ? train_in<Bf16>(opt, log, stop, c, setup_done)
                                   : train_in<float>(opt, log, stop, c, setup_done);
  } catch (const PeerFailure&) {
    throw;
  } catch (...) {
    if (c.size() == 1) throw;
    if (setup_done) {
      const auto e = std::current_exception();
      throw RankFailure(message_of(e), exit_code_of(e));
    }
    agree(c, std::current_exception());
    throw;
  }
}

namespace {

// The statistics the run normalises with: the dataset's, or those of the checkpoint it resumes
// (or --normalizer-from) when the dataset is a rebuild of the one that checkpoint saw. Only main
// persists between sessions on the GPU host, so each session regenerates the same parts; the
// batched GPU solver is not known to be bitwise reproducible, and round-off would move the
// statistics by ~1e-7. Training on with the checkpoint's statistics keeps the model's normaliser
// (and an ensemble's shared one) fixed; a dataset from other parts is still refused. The dataset
// is compared with the statistics of the data the run trains on ("data_statistics" in the
// training slot), which differ from its normaliser after --init-from; older checkpoints lack the
// key and trained with their data's statistics. --init-from (`init`) keeps the checkpoint's
// normaliser on purpose: the weights were fitted to it, and the new parts differ by design.
Normalizer training_normalizer(const Dataset& data, const TrainOptions& opt, const fs::path& last,
                               const Checkpoint* init, bool lead, const TrainLog& log) {
  Normalizer norm = Normalizer::from_dataset(data);
  if (init) {
    const std::string src = opt.init_from.string();
    const int added = appended_inputs(mesh::FeatureRecipe::from_json(init->feature_recipe, src),
                                      data.recipe(), src, opt.data.string());
    // New input arrays: their columns' statistics are the dataset's (widen_inputs.h).
    const Normalizer theirs = added == 0
                                  ? Normalizer::from_json(init->normalizer, src)
                                  : widen_normalizer(Normalizer::from_json(init->normalizer, src), norm, src);
    const double diff = statistics_difference(norm, theirs);
    FLARE_INPUT_CHECK(std::isfinite(diff), "--init-from: ", opt.data.string(),
                      " has other feature or target columns than ", src,
                      " was trained on; build it with the same --target and --inputs");
    if (lead && log)
      log(detail::concat("fine-tuning ", src, " on ", opt.data.string(),
                         " with the checkpoint's normaliser (the dataset's statistics differ from "
                         "it by up to ",
                         diff, " of a standard deviation)"));
    return theirs;
  }
  const fs::path source = opt.resume ? last : opt.normalizer_from;
  if (source.empty() || (opt.resume && !fs::exists(last))) return norm;  // resume says why below
  const Checkpoint c = load_checkpoint(source);
  FLARE_INPUT_CHECK(c.feature_recipe.is_null() || c.feature_recipe == data.recipe().to_json(),
                    opt.resume ? "--resume: " : "--normalizer-from: ", opt.data.string(),
                    " computes its features with another recipe than ", source.string(),
                    " (its part frames or length scale differ): it is not the same parts; ",
                    opt.resume ? "resume with the dataset that run used"
                               : "train without --normalizer-from");
  const Normalizer theirs = Normalizer::from_json(c.normalizer, source.string());
  const bool recorded = c.training.is_object() && c.training.contains("data_statistics");
  const Normalizer seen =
      recorded ? Normalizer::from_json(c.training.at("data_statistics"), source.string()) : theirs;
  const double diff = statistics_difference(norm, seen);
  FLARE_INPUT_CHECK(diff <= kRebuiltDatasetTolerance, opt.resume ? "--resume: " : "--normalizer-from: ",
                    opt.data.string(), " is not the dataset ", source.string(), " was trained on (",
                    c.training.is_object() && c.training.contains("options")
                        ? c.training.at("options").value("data", std::string("?"))
                        : std::string("?"),
                    "): its training statistics differ (by up to ", diff, " of a standard deviation; ",
                    "a rebuild of the same parts differs by at most ", kRebuiltDatasetTolerance, "); ",
                    opt.resume ? "resume with that dataset" : "train without --normalizer-from");
  if (diff > 0 && lead && log)
    log(detail::concat("the training statistics of ", opt.data.string(), " differ from those of ",
                       source.string(), " by ", diff,
                       " of a standard deviation (a rebuild of the same parts): training with the "
                       "checkpoint's"));
  return theirs;
}

template <typename A>
TrainResult train_in(const TrainOptions& opt, const TrainLog& log, const std::atomic<bool>* stop,
                     Comm& comm, bool& setup_done) {
  const int ranks = comm.size();
  const bool lead = comm.rank() == 0;  // logs and writes every file
  const auto t_start = std::chrono::steady_clock::now();
  FLARE_INPUT_CHECK(opt.epochs > 0, "--epochs must be positive, got ", opt.epochs);
  FLARE_INPUT_CHECK(opt.batch_size > 0, "--batch-size must be positive, got ", opt.batch_size);
  FLARE_INPUT_CHECK(opt.loss == "mse" || opt.loss == "rel_l2" || opt.loss == "rel_l2_normalized",
                    "--loss must be mse, rel_l2 or rel_l2_normalized, got '", opt.loss, "'");
  FLARE_INPUT_CHECK(!opt.shard_points || opt.loss == "mse",
                    "--shard-points trains with --loss mse (a per-mesh relative loss would need "
                    "each mesh's norms summed over the ranks), got --loss ",
                    opt.loss);
  FLARE_INPUT_CHECK(!opt.shard_points || opt.device == "cpu",
                    "--shard-points runs on cpu ranks (--device cpu), got --device ", opt.device);
  FLARE_INPUT_CHECK(opt.ema == 0 || (opt.ema > 0 && opt.ema < 1),
                    "--ema must be 0 (off) or a decay in (0, 1) such as 0.999, got ", opt.ema);
  FLARE_INPUT_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1,
                    "--beta1 and --beta2 must lie in [0, 1), got ", opt.beta1, " and ", opt.beta2);
  FLARE_INPUT_CHECK(opt.val_every > 0, "--val-every must be positive, got ", opt.val_every);
  FLARE_INPUT_CHECK(opt.log_every > 0, "--log-every must be positive, got ", opt.log_every);
  FLARE_INPUT_CHECK(opt.clip_norm >= 0 && opt.weight_decay >= 0 && opt.lr > 0,
                    "--lr must be positive and --clip-norm, --weight-decay non-negative");
  FLARE_INPUT_CHECK(!opt.out.empty(), "train: no output checkpoint given (-o model.h5)");
  ScheduleConfig sched;
  sched.kind = opt.schedule;
  sched.lr = opt.lr;
  sched.warmup_steps = opt.warmup;
  sched.pct_start = opt.pct_start;
  sched.div_factor = opt.div_factor;
  sched.final_div_factor = opt.final_div_factor;
  sched.cycle_momentum = opt.cycle_momentum;
  sched.base_momentum = opt.base_momentum;
  sched.max_momentum = opt.max_momentum;
  validate(sched);  // before the dataset is read; again below with the step count
  if (lead) check_writable(opt.out);

  const Dataset data(opt.data);
  const auto& train_ids = data.split("train");
  const auto& val_ids = data.split("val");
  FLARE_INPUT_CHECK(!train_ids.empty(), opt.data.string(),
                    ": the dataset's train split is empty; rebuild it with more samples or a "
                    "larger train fraction (dataset build --split)");
  const fs::path last = last_path(opt.out);
  // A resume continues its own state, which started from --init-from already.
  std::optional<Checkpoint> init;
  FLARE_INPUT_CHECK(opt.init_member == 0 || !opt.init_from.empty(),
                    "--init-member picks a member of the --init-from ensemble; give --init-from");
  if (!opt.init_from.empty() && !(opt.resume && fs::exists(last))) {
    FLARE_INPUT_CHECK(opt.normalizer_from.empty(),
                      "--init-from takes the checkpoint's normaliser; drop --normalizer-from");
    init = load_checkpoint(opt.init_from);
    const int k = init->num_members();
    FLARE_INPUT_CHECK(opt.init_member > 0 || k == 1, "--init-from: ", opt.init_from.string(),
                      " is an ensemble of ", k, " models; pick one with --init-member 1..", k);
    FLARE_INPUT_CHECK(opt.init_member <= k && opt.init_member >= 0, "--init-member ",
                      opt.init_member, ": ", opt.init_from.string(), " has ",
                      k == 1 ? std::string("one model") : detail::concat(k, " members"),
                      "; use 1..", k);
    FLARE_INPUT_CHECK(!init->feature_recipe.is_null() && !init->normalizer.is_null(),
                      "--init-from: ", opt.init_from.string(),
                      " stores no feature recipe or normaliser; start from a checkpoint written "
                      "by train");
  }
  const Normalizer norm = training_normalizer(data, opt, last, init ? &*init : nullptr, lead, log);
  std::optional<PlaneAugmenter> augmenter;
  if (opt.augment) augmenter.emplace(data.recipe(), norm, opt.data.string());
  // The train and val samples are read once and kept in memory: a per-step HDF5 read decompresses
  // whole chunks and dominated the step time of small models.
  std::vector<mesh::FeatureMatrix> train_x, train_y, val_x, val_y;
  for (auto s : train_ids) {
    train_x.push_back(data.features(s));
    train_y.push_back(data.targets(s));
    norm.normalize_features(train_x.back());
    norm.normalize_targets(train_y.back());
  }
  for (auto s : val_ids) {
    val_x.push_back(data.features(s));
    val_y.push_back(data.targets(s));
  }

  ModelConfig mc = opt.model;
  mc.in_dim = int(data.num_features());
  mc.out_dim = int(data.num_targets());
  mc.validate();
  const ParamLayout layout(mc);
  const Backend backend = make_backend(opt.device, opt.precision, comm.local_rank());
  const OpTable<A, float>& ops = model_ops<A>(backend);
  check_supported(backend, mc, "train");
  TrainSamples<A> samples(ops, train_x, train_y);
  Model<A, float> model(layout, ops);
  model.set_recompute(opt.recompute);
  // Point-sharded: every forward and backward is collective, on every rank, every step.
  const bool sharded = opt.shard_points && ranks > 1;
  if (sharded) model.set_point_shards(&comm);

  const std::int64_t n_train = std::int64_t(train_ids.size());
  // Step k of an epoch trains on positions [k·G, (k+1)·G) of the epoch's order, G the global batch;
  // rank r takes the r-th run of batch_size of them, so N ranks with batch b follow the trajectory
  // of one process with batch N·b. Point-sharded, every rank takes its slice of all G = b meshes.
  const std::int64_t global_batch = std::int64_t(opt.batch_size) * (opt.shard_points ? 1 : ranks);
  const std::int64_t per_epoch = (n_train + global_batch - 1) / global_batch;
  sched.total_steps = per_epoch * opt.epochs;
  validate(sched);

  AdamWConfig ac;
  ac.lr = float(opt.lr);
  ac.beta1 = float(opt.beta1);
  ac.beta2 = float(opt.beta2);
  ac.weight_decay = float(opt.weight_decay);
  if (opt.clip_norm > 0) ac.clip_norm = opt.clip_norm;
  AdamW adam(layout, ac, backend.ops);

  TrainOptions stored = opt;
  stored.model = mc;
  stored.batch_size = int(global_batch);
  const Json trajectory = stored.trajectory_json();

  // params is the host copy (initialisation, resume, checkpoints); the step runs on d_params and
  // d_grads in the backend's memory.
  const std::int64_t P = layout.size();
  std::vector<float> params(P);
  std::vector<float> ema_params;  // host copy of the average (ema > 0)
  std::vector<float> best_params;
  LoopState st;
  std::vector<std::string> metrics_lines;
  Json init_record;  // provenance of --init-from, kept by resumes; null when trained from scratch
  const Json data_statistics = Normalizer::from_dataset(data).to_json();

  if (opt.resume) {
    FLARE_INPUT_CHECK(fs::exists(last), "--resume: ", last.string(),
                      " does not exist; train without --resume first (it is written every "
                      "--checkpoint-every steps and when training stops)");
    Checkpoint c = load_checkpoint(last);
    FLARE_INPUT_CHECK(c.has_optimizer && c.training.is_object(), last.string(),
                      ": not a training-state checkpoint (no optimizer state); resume needs the "
                      ".last.h5 file written by train");
    const Json was = upgraded_trajectory(c.training.at("options"));
    // The dataset was identified by its training statistics (training_normalizer), not by its
    // path: a dataset moved to another folder or machine, or rebuilt from the same parts, resumes.
    for (auto it = trajectory.begin(); it != trajectory.end(); ++it) {
      if (it.key() == "data") continue;
      // A version-1 run's `--loss rel_l2` was on normalised targets; the same flag now means the
      // denormalised loss, so the resume is refused with the flag that continues it exactly.
      const bool renamed_loss = it.key() == "loss" && was.at("loss") == "rel_l2_normalized" &&
                                it.value() == "rel_l2" &&
                                !c.training.at("options").contains("trajectory_version");
      FLARE_INPUT_CHECK(was.contains(it.key()) && was.at(it.key()) == it.value(),
                        "--resume: option '", it.key(), "' was ",
                        was.value(it.key(), Json()).dump(), " in ", last.string(), " but is ",
                        it.value().dump(), " now; ",
                        renamed_loss ? "that run's --loss rel_l2 was on normalised targets, which "
                                       "is now --loss rel_l2_normalized: resume with that"
                                     : "resume with the original options (see the command stored "
                                       "in the checkpoint's training slot)",
                        it.key() == "batch_size"
                            ? detail::concat(" (batch_size is the global batch, --batch-size × "
                                             "the number of ranks, here ",
                                             ranks, ")")
                            : std::string());
    }
    for (auto it = was.begin(); it != was.end(); ++it)  // an option on then, off (absent) now
      FLARE_INPUT_CHECK(trajectory.contains(it.key()), "--resume: option '", it.key(), "' was ",
                        it.value().dump(), " in ", last.string(),
                        " but is not set now; resume with the original options");
    FLARE_INPUT_CHECK(opt.ema == 0 || c.adam_params.size() == params.size(), last.string(),
                      ": trained with --ema but holds no optimizer/params (the weights behind the "
                      "average); the file is damaged: resume from an earlier copy or retrain");
    if (opt.ema > 0) {
      ema_params = std::move(c.params);  // params/ is the average, optimizer/params the iterate
      c.params = std::move(c.adam_params);
    }
    params = std::move(c.params);
    adam.set_state(std::move(c.adam_m), std::move(c.adam_v), c.step);
    const Json& t = c.training;
    st.step = t.at("step");
    st.epoch = t.at("epoch");
    st.position = t.at("position");
    st.best_val = t.at("best_val").is_null() ? std::numeric_limits<double>::infinity()
                                             : t.at("best_val").get<double>();
    st.best_step = t.at("best_step");
    if (!opt.metrics.empty() && fs::exists(opt.metrics)) {
      std::ifstream in(opt.metrics);
      for (std::string line; std::getline(in, line);) {
        const Json j = Json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("step", std::int64_t(-1)) <= st.step)
          metrics_lines.push_back(line);
      }
    }
    if (lead)
      log("resuming from " + last.string() + " at epoch " + std::to_string(st.epoch + 1) +
          ", step " + std::to_string(st.step));
    init_record = t.value("init_from", Json());
  } else if (init) {
    // A dataset with appended input arrays (appended_inputs) widens the model's input layer.
    ModelConfig theirs = init->config;
    const bool widened = theirs.in_dim < mc.in_dim;
    theirs.in_dim = mc.in_dim;
    FLARE_INPUT_CHECK(theirs == mc, "--init-from: ", opt.init_from.string(), " is a model ",
                      to_json(init->config).dump(), " but the options give ", to_json(mc).dump(),
                      "; pass its model options (-C, -L, -H, -M, ...)");
    const int member = std::max(opt.init_member, 1) - 1;
    // The weights it is evaluated with (the average, if any).
    params = widened ? widen_inputs(init->config, init->member(member), mc) : init->member(member);
    if (widened && lead && log)
      log(detail::concat("widened the input layer of ", opt.init_from.string(), " from ",
                         init->config.in_dim, " to ", mc.in_dim, " features (the new ones start "
                         "with zero weights)"));
    if (opt.ema > 0) ema_params = params;
    init_record = {{"file", opt.init_from.string()},
                   {"step", init->training.is_object() ? init->training.value("step", Json())
                                                       : Json()}};
    if (init->num_members() > 1) init_record["member"] = member + 1;
    init.reset();
  } else {
    layout.initialize(params.data(), opt.seed);
    if (opt.ema > 0) ema_params = params;  // FLARE.py's EMA starts from the initial weights
  }

  // p: the weights to evaluate (the average with --ema); with_state adds the optimizer's.
  auto make_ckpt = [&](const std::vector<float>& p, bool with_state) {
    Checkpoint c;
    c.config = mc;
    c.params = p;
    c.normalizer = norm.to_json();
    c.feature_recipe = data.recipe().to_json();
    c.training_domain = data.training_domain();
    Json t = {{"options", trajectory},
              {"command_line", opt.command_line},
              {"step", st.step},
              {"epoch", st.epoch},
              {"position", st.position},
              {"steps_per_epoch", per_epoch},
              {"best_val", std::isfinite(st.best_val) ? Json(st.best_val) : Json()},
              {"best_step", st.best_step},
              {"data_statistics", data_statistics}};
    if (!init_record.is_null()) t["init_from"] = init_record;
    if (with_state) {
      c.has_optimizer = true;
      c.adam_m = adam.m();
      c.adam_v = adam.v();
      c.step = adam.steps_done();
      if (opt.ema > 0) c.adam_params = params;
    }
    c.training = std::move(t);
    return c;
  };
  auto write_metrics = [&] {
    if (opt.metrics.empty()) return;
    write_atomically(opt.metrics, [&](const fs::path& tmp) {
      std::ofstream f(tmp);
      for (const auto& l : metrics_lines) f << l << "\n";
      FLARE_CHECK(f.good(), "cannot write ", tmp.string());
    });
  };
  Buffer<float> d_params(ops.mem, P, "model parameters"), d_grads(ops.mem, P, "gradients");
  d_params.upload(params.data(), P);
  const bool averaged = opt.ema > 0;
  Buffer<float> d_ema;
  if (averaged) {
    d_ema.ensure(ops.mem, P, "weight average (--ema)");
    d_ema.upload(ema_params.data(), P);
  }
  // The weights validation and the saved model use.
  const float* d_eval = averaged ? d_ema.data() : d_params.data();
  // Every rank holds the same state; rank 0 writes it while the others wait, so that no rank moves
  // on (or exits) before the checkpoint exists.
  auto save_last = [&] {
    if (lead) {
      d_params.download(params.data(), P);
      if (averaged) d_ema.download(ema_params.data(), P);
      const std::vector<float>& model_params = averaged ? ema_params : params;
      save_checkpoint(last, make_ckpt(model_params, true));
      // Without a validation split the "best" model is simply the latest one.
      if (val_ids.empty()) save_checkpoint(opt.out, make_ckpt(model_params, false));
      write_metrics();
    }
    comm.barrier();
  };
  // --loss rel_l2 denormalises prediction and target per column inside the op (target std and
  // mean, as Normalizer::denormalize_targets rounds them): the loss is the reported metric.
  Buffer<float> d_col_scale, d_col_shift;
  if (opt.loss == "rel_l2") {
    std::vector<float> s, m;
    for (double v : norm.target_std) s.push_back(float(v));
    for (double v : norm.target_mean) m.push_back(float(v));
    d_col_scale.ensure(ops.mem, std::int64_t(s.size()), "loss scale");
    d_col_shift.ensure(ops.mem, std::int64_t(m.size()), "loss shift");
    d_col_scale.upload(s.data(), std::int64_t(s.size()));
    d_col_shift.upload(m.data(), std::int64_t(m.size()));
  }
  const float* col_scale = opt.loss == "rel_l2" ? d_col_scale.data() : nullptr;
  const float* col_shift = opt.loss == "rel_l2" ? d_col_shift.data() : nullptr;

  setup_done = true;
  agree(comm, nullptr);
  const std::string transport = comm.bind(ops.mem);

  TrainResult res;
  const std::int64_t total = per_epoch * opt.epochs;
  std::optional<Progress> bar;
  if (lead) {
    bar.emplace(total, "train", "steps");
    bar->set(st.step);
  }
  auto say = [&](const std::string& line) {
    if (!lead) return;
    if (bar->active()) bar->println(line);
    log(line);
  };
  // Also 1 rank under mpirun: the path it took is worth a line.
  if (sharded)
    say("point-sharded over " + std::to_string(ranks) + " ranks: each holds a slice of the " +
        "points of every mesh of a batch of " + std::to_string(global_batch) +
        ", gradients summed over " + transport);
  else if (transport != "single process")
    say("data-parallel over " + std::to_string(ranks) + " ranks: " +
        std::to_string(opt.batch_size) + " meshes per rank, global batch " +
        std::to_string(global_batch) + ", gradients summed over " + transport);
  if (backend.device != "cpu")
    say(std::string("training samples ") +
        (samples.resident() ? "resident in GPU memory (" : "streamed from host memory (") +
        fmt(double(samples.bytes()) / double(1 << 20), 0) + " MiB" +
        (samples.resident() ? ")" : ", more than half the free GPU memory)"));
  say("epoch | step | loss | val rel-L2 | lr | ms/step | points/s");

  double win_loss = 0, win_ms = 0;
  std::int64_t win_steps = 0, win_points = 0, run_steps = 0;
  double last_val = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::int64_t> order =
      st.epoch < opt.epochs ? epoch_order(n_train, opt.seed, st.epoch) : std::vector<std::int64_t>{};
  // Batch buffers grow to the largest batch and are then reused: no allocation in steady state.
  Buffer<A> d_x, d_pred, d_dpred;
  Buffer<float> d_y;
  Buffer<std::int64_t> d_offsets;
  const kernels::ColumnMap same_x = kernels::ColumnMap::identity(samples.features()),
                           same_y = kernels::ColumnMap::identity(samples.targets());
  // Each step's loss terms (the mse, or each mesh's rel-L2) stay in the table's memory until
  // settle() reads a run of steps back at once: a GPU step never waits for the host, so the host
  // queues the next step while the GPU computes this one. With several ranks the loss is summed
  // across them with the stop request every step, so each step settles at once.
  struct Pending {
    std::int64_t step;
    int terms;     // doubles in d_stats (0: this rank had no meshes)
    double share;  // this rank's share of the global batch's loss
  };
  std::vector<Pending> pending;
  std::int64_t stats_used = 0;
  const std::int64_t stats_cap = std::max<std::int64_t>(1024, 4 * opt.batch_size);
  Buffer<double> d_stats(ops.mem, stats_cap, "step losses");
  std::vector<double> stats_host;
  std::optional<std::chrono::steady_clock::time_point> t_mark;  // start of the unsettled run
  // Reads the pending steps' losses back (one transfer and one wait), records them in order and
  // stops at the first that is not finite; returns this rank's share of the last one.
  auto settle = [&]() -> double {
    double last_share = 0;
    if (pending.empty()) return last_share;
    stats_host.resize(std::size_t(stats_used));
    d_stats.download(stats_host.data(), stats_used);  // waits for the queued steps
    win_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                        *t_mark)
                  .count();
    t_mark.reset();
    std::int64_t at = 0;
    for (const Pending& p : pending) {
      double loss = 0;
      for (int k = 0; k < p.terms; ++k) loss += stats_host[std::size_t(at + k)];
      if (p.terms > 1) loss /= p.terms;
      at += p.terms;
      last_share = loss * p.share;
      if (ranks > 1) continue;  // recorded by the caller once summed over the ranks
      FLARE_INPUT_CHECK(std::isfinite(loss), "train: the loss became ", loss, " at step ", p.step,
                        "; lower --lr or set --clip-norm");
      res.losses.push_back(loss);
      win_loss += loss;
      ++win_steps;
    }
    pending.clear();
    stats_used = 0;
    return last_share;
  };

  while (st.epoch < opt.epochs) {
    if (!t_mark) t_mark = std::chrono::steady_clock::now();
    const std::int64_t glo = st.position * global_batch;
    const std::int64_t ghi = std::min(n_train, glo + global_batch);
    const std::int64_t lo = sharded ? glo : std::min(ghi, glo + comm.rank() * opt.batch_size);
    const std::int64_t hi = sharded ? ghi : std::min(ghi, lo + opt.batch_size);
    std::int64_t global_points = 0;
    for (std::int64_t k = glo; k < ghi; ++k) global_points += samples.rows(order[k]);
    std::vector<std::int64_t> ids;
    for (std::int64_t k = lo; k < hi; ++k) ids.push_back(order[k]);
    // This rank's share of the global batch's loss: the gradient of the global mean is the sum
    // over ranks of each rank's gradient scaled by its share of the mean's terms (points for mse,
    // meshes for the per-mesh losses), so one all-reduce sum yields it exactly.
    Pending step_stats{st.step, 0, 0.0};
    d_grads.zero(P);
    if (!ids.empty()) {  // the last global batch of an epoch may leave a rank without meshes
      const int nb = int(ids.size());
      // This rank's rows of each mesh: all of them, or its point_slice when point-sharded.
      std::vector<PointSlice> rows(ids.size());
      std::vector<std::int64_t> offsets = {0};
      for (int k = 0; k < nb; ++k) {
        const std::int64_t n_k = samples.rows(ids[k]);
        rows[k] = sharded ? point_slice(n_k, comm.rank(), ranks) : PointSlice{0, n_k};
        offsets.push_back(offsets.back() + rows[k].size());
      }
      const std::int64_t n_rows = offsets.back(), n = n_rows * samples.targets();
      const double share = opt.loss == "mse" ? double(n_rows) / double(global_points)
                                             : double(nb) / double(ghi - glo);
      d_x.ensure(ops.mem, n_rows * samples.features(), "batch features");
      d_y.ensure(ops.mem, n, "batch targets");
      d_pred.ensure(ops.mem, n, "batch predictions");
      d_dpred.ensure(ops.mem, n, "batch gradients");
      d_offsets.ensure(ops.mem, nb + 1, "batch offsets");
      // Each part in its pose of this epoch (the cached samples stay in their own).
      for (int k = 0; k < nb; ++k) {
        const int g = augmenter ? PlaneAugmenter::draw(opt.seed, st.epoch, train_ids[ids[k]]) : 0;
        samples.place(ids[k], rows[k].lo, rows[k].hi,
                      g ? augmenter->feature_map(g, samples.features()) : same_x,
                      g ? augmenter->target_map(g, samples.targets()) : same_y, d_x.data(),
                      d_y.data(), offsets[k]);
      }
      d_offsets.upload(offsets.data(), nb + 1);
      model.forward(d_params.data(), d_x.data(), offsets.data(), nb, d_pred.data());
      // The losses of surrogate/loss.h, through the table: dpred is overwritten with ∂loss/∂pred.
      const int terms = opt.loss == "mse" ? 1 : nb;
      if (stats_used + terms > stats_cap) settle();
      double* stats = d_stats.data() + stats_used;
      d_dpred.zero(n);
      if (opt.loss == "mse") {
        if (n > 0) ops.mse_fwd(ops.ctx, d_pred.data(), d_y.data(), n, stats);
        else ops.mem.zero(ops.mem.ctx, stats, sizeof(double));  // a sharded rank without points
        ops.mse_bwd(ops.ctx, d_pred.data(), d_y.data(), n, float(share), d_dpred.data());
      } else {
        BatchView bv{d_offsets.data(), nb, 0, n_rows};
        for (int k = 0; k < nb; ++k) bv.max_points = std::max(bv.max_points, rows[k].size());
        ops.rel_l2_fwd(ops.ctx, d_pred.data(), d_y.data(), bv, samples.targets(), col_scale,
                       col_shift, stats);
        ops.rel_l2_bwd(ops.ctx, d_pred.data(), d_y.data(), bv, samples.targets(), col_scale,
                       col_shift, float(share), d_dpred.data());
      }
      step_stats = {st.step, terms, share};
      stats_used += terms;
      // A non-finite loss gives non-finite gradients, and settle() stops the run before any of
      // them is saved.
      model.backward(d_params.data(), d_dpred.data(), d_grads.data());
    }
    pending.push_back(step_stats);
    comm.allreduce_sum(d_grads.data(), P, ops.mem);
    bool stop_asked = stop && stop->load();
    if (ranks > 1) {
      // The loss and the stop request travel together, so every rank stops after the same step.
      double reduced[2] = {settle(), stop_asked ? 1.0 : 0.0};
      comm.allreduce_sum(reduced, 2);
      const double loss = reduced[0];
      stop_asked = reduced[1] > 0;
      FLARE_INPUT_CHECK(std::isfinite(loss), "train: the loss became ", loss, " at step ", st.step,
                        "; lower --lr or set --clip-norm");
      res.losses.push_back(loss);
      win_loss += loss;
      ++win_steps;
    }
    const double lr = learning_rate(sched, st.step);
    const double beta1 = momentum(sched, st.step, opt.beta1);
    adam.step(d_params.data(), d_grads.data(), float(lr), float(beta1));
    if (averaged)
      backend.ops.ema_update(backend.ops.ctx, d_ema.data(), d_params.data(), P, opt.ema);
    ++st.step;
    ++st.position;
    ++run_steps;
    if (bar) bar->advance();
    win_points += global_points;

    // Whatever reads the state next (validation, a log line, a checkpoint, the end) sees settled
    // losses: a run that diverged stops here, before anything of it is written.
    const bool ends = st.epoch + (st.position == per_epoch ? 1 : 0) == opt.epochs;
    const bool halts = !ends && (stop_asked || (opt.stop_after > 0 && run_steps >= opt.stop_after));
    if (st.position == per_epoch || ends || halts ||
        win_steps + std::int64_t(pending.size()) >= opt.log_every ||
        (opt.checkpoint_every > 0 && st.step % opt.checkpoint_every == 0))
      settle();

    bool validated = false;
    if (st.position == per_epoch) {
      const bool last_epoch = st.epoch + 1 == opt.epochs;
      if (!val_ids.empty() && ((st.epoch + 1) % opt.val_every == 0 || last_epoch)) {
        // Every ranks-th sample per rank, one sum over ranks. Point-sharded: every sample on
        // every rank, each rank's slice of its points, the squared error norms summed.
        last_val = 0;
        if (sharded) {
          for (std::size_t v = 0; v < val_x.size(); ++v) {
            const PointSlice p = point_slice(val_x[v].rows(), comm.rank(), ranks);
            const mesh::FeatureMatrix pred = predict_denormalized(
                model, d_eval, norm, mesh::FeatureMatrix(val_x[v].middleRows(p.lo, p.size())));
            double sums[2] = {0, 0};  // Σ (ŷ − y)², Σ y²
            for (Eigen::Index i = 0; i < pred.rows(); ++i)
              for (Eigen::Index c = 0; c < pred.cols(); ++c) {
                const double y = val_y[v](p.lo + i, c), e = double(pred(i, c)) - y;
                sums[0] += e * e;
                sums[1] += y * y;
              }
            comm.allreduce_sum(sums, 2);
            last_val += relative_l2(sums[0], sums[1]);
          }
        } else {
          for (std::size_t v = std::size_t(comm.rank()); v < val_x.size(); v += std::size_t(ranks))
            last_val +=
                sample_metrics(predict_denormalized(model, d_eval, norm, val_x[v]), val_y[v])
                    .rel_l2;
          comm.allreduce_sum(&last_val, 1);
        }
        last_val /= double(val_x.size());
        validated = true;
        metrics_lines.push_back(Json{{"kind", "val"},
                                     {"epoch", st.epoch + 1},
                                     {"step", st.step},
                                     {"val_rel_l2", last_val}}
                                    .dump());
        if (last_val < st.best_val) {
          st.best_val = last_val;
          st.best_step = st.step;
          if (lead) best_params = averaged ? d_ema.to_host(P) : d_params.to_host(P);
        }
      }
      ++st.epoch;
      st.position = 0;
      if (st.epoch < opt.epochs) order = epoch_order(n_train, opt.seed, st.epoch);
    }
    if (win_steps == opt.log_every || validated || st.epoch == opt.epochs) {
      const double mean_loss = win_loss / double(win_steps);
      res.last_loss = mean_loss;
      metrics_lines.push_back(Json{{"kind", "train"},
                                   {"epoch", st.epoch + (st.position ? 1 : 0)},
                                   {"step", st.step},
                                   {"loss", mean_loss},
                                   {"lr", lr},
                                   {"beta1", beta1},
                                   {"ms_per_step", win_ms / double(win_steps)},
                                   {"points_per_s", double(win_points) / (win_ms / 1000.0)}}
                                  .dump());
      say(std::to_string(st.epoch + (st.position ? 1 : 0)) + " | " + std::to_string(st.step) +
          " | " + fmt(mean_loss, 3, true) + " | " + (validated ? fmt(last_val, 4) : "-") + " | " +
          fmt(lr, 2, true) + " | " + fmt(win_ms / double(win_steps), 1) + " | " +
          fmt(double(win_points) / (win_ms / 1000.0), 0));
      if (bar) bar->set_postfix("loss " + fmt(mean_loss, 3, true));
      win_loss = win_ms = 0;
      win_steps = win_points = 0;
    }
    // The best model is written when it is found, so a crash never loses it.
    if (lead && validated && st.best_step == st.step)
      save_checkpoint(opt.out, make_ckpt(best_params, false));
    const bool done = st.epoch == opt.epochs;
    const bool halt = !done && (stop_asked || (opt.stop_after > 0 && run_steps >= opt.stop_after));
    if (done || halt || (opt.checkpoint_every > 0 && st.step % opt.checkpoint_every == 0))
      save_last();
    if (halt) {
      res.interrupted = true;
      break;
    }
  }
  if (bar) bar->finish();
  res.steps = st.step;
  res.epoch = st.epoch;
  res.best_val = st.best_val;
  res.params = d_params.to_host(P);
  res.checksum = check_replicas(comm, res.params.data(), P);
  if (ranks > 1) {
    std::ostringstream sum;
    sum << std::hex << std::setw(16) << std::setfill('0') << res.checksum;
    say("parameters identical on all " + std::to_string(ranks) + " ranks (checksum " + sum.str() +
        ")");
  }
  if (averaged) res.ema = d_ema.to_host(P);
  res.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return res;
}

}  // namespace

}  // namespace flare::surrogate
