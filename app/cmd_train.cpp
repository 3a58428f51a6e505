// `flare-surrogate train`: fit a FLARE model on a dataset file (surrogate/trainer.h).
#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "app/command.h"
#include "app/gpu_memory.h"
#include "common/error.h"
#include "surrogate/comm.h"
#include "surrogate/ops_table.h"
#include "surrogate/trainer.h"

namespace {

using namespace flare;
namespace po = app::po;

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop.store(true); }

// --recipe NAME: option values as INI lines, stored after the command line and --config so that
// both win over them. "reference" is FLARE.py's recipe (../shared/design/flare.md, "Training
// defaults"): AdamW lr 1e-3, β = (0.9, 0.999) with β1 cycled 0.95 → 0.85 → 0.95 by OneCycle
// (pct_start 0.1, div 1e4, final div 1e4), no weight decay, clipping at 1, weight average 0.999,
// rel-L2 of the denormalised field per mesh, one mesh per step.
const char* recipe_ini(const std::string& name) {
  if (name == "reference")
    return "lr = 1e-3\nbeta1 = 0.9\nbeta2 = 0.999\nweight-decay = 0\nschedule = onecycle\n"
           "pct-start = 0.1\ndiv-factor = 1e4\nfinal-div-factor = 1e4\ncycle-momentum = true\n"
           "base-momentum = 0.85\nmax-momentum = 0.95\nclip-norm = 1.0\nema = 0.999\n"
           "loss = rel_l2\nbatch-size = 1\n";
  throw InputError("--recipe: unknown recipe '" + name + "' (known: reference)");
}

// Fills `o` from the command line, --config and --recipe; false after --help.
bool parse_train_options(const app::Args& args, surrogate::TrainOptions& o) {
  std::string data, out, metrics, config, recipe, device = "cpu";
  auto& m = o.model;
  // The model defaults are FLARE.py's (C 64, L 8, H 8, M 64): the paper's model unless asked
  // otherwise (e.g. `-L 4` trains twice as fast on a CPU).
  po::options_description opts("options (also accepted as `name = value` lines in --config)");
  opts.add_options()
      ("data", po::value(&data), "dataset file from `dataset build` (.h5)")
      ("output,o", po::value(&out), "best checkpoint to write (.h5); the resumable state goes to <stem>.last.h5")
      ("config", po::value(&config), "INI file of these options; command-line flags win")
      ("recipe", po::value(&recipe), "named set of options, below flags and --config: 'reference' = FLARE.py's recipe (lr 1e-3, onecycle pct-start 0.1, div-factor 1e4, final-div-factor 1e4, cycle-momentum, clip-norm 1, ema 0.999, loss rel_l2)")
      ("metrics", po::value(&metrics), "JSONL metrics file (one line per log step and per validation)")
      ("device", po::value(&device)->default_value(device), "cpu | cuda (checkpoints resume on either)")
      ("precision", po::value(&o.precision)->default_value(o.precision), "fp32 | bf16 (bf16 activations, fp32 weights and optimizer; needs --device cuda)")
      ("epochs", po::value(&o.epochs)->default_value(o.epochs), "passes over the train split")
      ("batch-size", po::value(&o.batch_size)->default_value(o.batch_size), "meshes per step (packed, no padding)")
      ("lr", po::value(&o.lr)->default_value(o.lr), "peak learning rate")
      ("schedule", po::value(&o.schedule)->default_value(o.schedule), "onecycle | cosine | constant")
      ("warmup", po::value(&o.warmup)->default_value(o.warmup), "warmup steps (cosine)")
      ("pct-start", po::value(&o.pct_start)->default_value(o.pct_start, "0.3"), "onecycle: fraction of the steps with a rising lr")
      ("div-factor", po::value(&o.div_factor)->default_value(o.div_factor), "onecycle: initial lr = lr / div-factor")
      ("final-div-factor", po::value(&o.final_div_factor)->default_value(o.final_div_factor, "1e4"), "onecycle: final lr = initial lr / final-div-factor")
      ("cycle-momentum", po::value(&o.cycle_momentum)->default_value(o.cycle_momentum, "false"), "onecycle: cycle AdamW beta1 from max-momentum to base-momentum and back, against the lr (true|false)")
      ("base-momentum", po::value(&o.base_momentum)->default_value(o.base_momentum, "0.85"), "beta1 at the peak lr (cycle-momentum)")
      ("max-momentum", po::value(&o.max_momentum)->default_value(o.max_momentum, "0.95"), "beta1 at the start and end (cycle-momentum)")
      ("beta1", po::value(&o.beta1)->default_value(o.beta1, "0.9"), "AdamW beta1 (fixed; unused with cycle-momentum)")
      ("beta2", po::value(&o.beta2)->default_value(o.beta2, "0.999"), "AdamW beta2")
      ("weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay), "AdamW decay of Linear weights")
      ("clip-norm", po::value(&o.clip_norm)->default_value(o.clip_norm), "global gradient-norm limit, 0 = none")
      ("ema", po::value(&o.ema)->default_value(o.ema), "decay of a moving average of the weights updated every step (e.g. 0.999): validation, the saved model, eval and predict use the average; 0 = none")
      ("loss", po::value(&o.loss)->default_value(o.loss), "mse (normalised targets) | rel_l2 (per mesh, of the denormalised field: the reported metric) | rel_l2_normalized (per mesh, normalised targets)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the initial parameters, the data order and --augment")
      ("augment", po::bool_switch(&o.augment), "show each training part per step in a random one of the 8 rotations by 90 degrees about z and mirrors in x/y (needs a dataset with feature recipe version 2)")
      ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(o.checkpoint_every), "steps between resumable checkpoints, 0 = at the end only")
      ("val-every", po::value(&o.val_every)->default_value(o.val_every), "epochs between validations")
      ("log-every", po::value(&o.log_every)->default_value(o.log_every), "steps per log line")
      ("stop-after", po::value(&o.stop_after)->default_value(o.stop_after), "stop after this many steps of this run (resumable), 0 = never")
      ("recompute", po::bool_switch(&o.recompute), "keep one block of activations, recompute the others in backward: ~L x less memory, ~1/3 more time, same results")
      ("shard-points", po::bool_switch(&o.shard_points), "under mpirun: every rank holds a slice of the points of every mesh (for meshes too large for one process) instead of whole meshes; cpu, --loss mse; follows one process with the same --batch-size")
      ("resume", po::bool_switch(&o.resume), "continue from <stem>.last.h5 with the same options (also on the same parts generated and built again: the checkpoint's statistics are kept)")
      ("normalizer-from", po::value<std::string>()->notifier([&](const std::string& p) { o.normalizer_from = p; }), "normalise with this checkpoint's statistics (the dataset must be the same parts, built again): a new ensemble member then shares the normalizer of members trained earlier")
      ("init-from", po::value<std::string>()->notifier([&](const std::string& p) { o.init_from = p; }), "fine-tune: start from this checkpoint's weights and normaliser (fresh optimizer and schedule) on a dataset built with `dataset build --recipe-from` it, e.g. one with new kinds of parts; the model options must be its")
      ("init-member", po::value(&o.init_member), "with --init-from an ensemble (e.g. the bundled model): start from its member K (1..K); give each new member its own")
      ("channels,C", po::value(&m.channel_dim)->default_value(m.channel_dim), "channel width C")
      ("blocks,L", po::value(&m.num_blocks)->default_value(m.num_blocks), "number of FLARE blocks L (0: pointwise MLP baseline)")
      ("heads,H", po::value(&m.num_heads)->default_value(m.num_heads), "attention heads H (C divisible by H)")
      ("latents,M", po::value(&m.num_latents)->default_value(m.num_latents), "latent queries per head M")
      ("qk-norm", po::value(&m.qk_norm)->default_value(m.qk_norm), "LayerNorm on latent queries and keys (true|false)")
      ("separate-decode-keys", po::value(&m.separate_decode_keys)->default_value(m.separate_decode_keys), "second key projection for the decode (true|false)")
      ("mlp-layers", po::value(&m.num_layers_ffn)->default_value(m.num_layers_ffn), "hidden layers of the ffn MLP");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!app::parse_args("train", args, opts, pos, vm, "train --data data.h5 -o model.h5 [options]",
                       "  flare-surrogate train --data data.h5 -o model.h5 --epochs 50\n"
                       "  flare-surrogate train --data data.h5 -o model.h5 --device cuda --batch-size 4\n"
                       "  flare-surrogate train --data data.h5 -o model.h5 --device cuda --precision bf16\n"
                       "  flare-surrogate train --config run.ini --metrics run.jsonl\n"
                       "  flare-surrogate train --data data.h5 -o model.h5 --recipe reference --epochs 250\n"
                       "  flare-surrogate train --data data.h5 -o model.h5 -C 32 -L 2 -H 4 -M 16 --batch-size 4\n"
                       "  flare-surrogate train --data data.h5 -o model.h5 --resume   # after Ctrl-C\n"
                       "  flare-surrogate train --data more.h5 -o tuned.h5 --init-from model.h5 --epochs 20\n"
                       "  mpirun -np 2 flare-surrogate train --data data.h5 -o model.h5 --device cuda   # one rank per GPU\n"
                       "  mpirun -np 4 flare-surrogate train --data data.h5 -o model.h5 --shard-points   # each mesh's points over 4 CPU ranks\n"))
    return false;
  if (!config.empty()) {
    std::ifstream f(config);
    FLARE_INPUT_CHECK(f.good(), config, ": cannot open the --config file");
    try {
      po::store(po::parse_config_file(f, opts), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw InputError(config + ": " + e.what() + " (keys are the long option names of 'train --help')");
    }
  }
  if (!recipe.empty()) {
    std::istringstream ini(recipe_ini(recipe));
    po::store(po::parse_config_file(ini, opts), vm);  // fills only what flags and --config left
    po::notify(vm);
  }
  FLARE_INPUT_CHECK(!data.empty(), "train: no dataset given (--data data.h5, or data = ... in --config)");
  FLARE_INPUT_CHECK(!out.empty(), "train: no output checkpoint given (-o model.h5, or output = ... in --config)");
  FLARE_INPUT_CHECK(device == "cpu" || device == "cuda", "--device must be cpu or cuda, got '", device, "'");
  surrogate::check_precision(device, o.precision);
  o.data = data;
  o.out = out;
  o.metrics = metrics;
  o.device = device;
  o.command_line = "flare-surrogate train";
  for (const auto& a : args)
    if (a != "--resume") o.command_line += " " + a;
  return true;
}

int train_ranks(const app::Args& args) {
  surrogate::TrainOptions o;
  try {
    if (!parse_train_options(args, o)) return 0;
  } catch (...) {
    // Under an MPI launcher every rank parses the same arguments and fails alike: rank 0 reports.
    if (surrogate::launcher_rank() > 0)
      throw surrogate::PeerFailure(surrogate::exit_code_of(std::current_exception()));
    throw;
  }
  const std::unique_ptr<surrogate::Comm> comm = surrogate::make_comm();
  const bool lead = comm->rank() == 0;
  const std::string out = o.out.string();

  std::signal(SIGINT, on_sigint);
  // mpirun ends its ranks on SIGINT but forwards SIGUSR1: `kill -USR1 <mpirun>` stops a
  // data-parallel run as Ctrl-C stops a single process (all ranks after the same step, state saved).
  std::signal(SIGUSR1, on_sigint);
  surrogate::TrainResult r;
  try {
    r = surrogate::train(
        o, [](const std::string& line) { std::cout << line << std::endl; }, &g_stop, comm.get());
  } catch (const surrogate::RankFailure& e) {
    app::print_error((lead ? "" : "rank " + std::to_string(comm->rank()) + ": ") + std::string(e.what()));
    comm->abort(e.code());
  }
  std::signal(SIGUSR1, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  if (!lead) return r.interrupted && g_stop.load() ? 130 : 0;
  const std::string last = surrogate::last_path(o.out).string();
  // Beside the ms/step and points/s of the log.
  if (o.device == "cuda")
    std::cout << "peak GPU memory " << app::gpu_peak_bytes() / (1 << 20)
              << " MiB (this process's device allocations)\n";
  // Any number of ranks resumes it, with --batch-size × ranks unchanged.
  const std::string launcher =
      comm->size() > 1 ? "mpirun -np " + std::to_string(comm->size()) + " " : "";
  if (r.interrupted) {
    std::cout << "stopped at epoch " << r.epoch + 1 << ", step " << r.steps << "; state saved to "
              << last << "\nresume with: " << launcher << o.command_line << " --resume\n";
    return g_stop.load() ? 130 : 0;
  }
  std::cout << "trained " << r.steps << " steps (" << r.epoch << " epochs) in " << r.seconds
            << " s; ";
  if (std::isfinite(r.best_val))
    std::cout << "best val rel-L2 " << r.best_val << " saved to " << out << "\n";
  else
    std::cout << "no validation split: the last parameters are saved to " << out << "\n";
  return 0;
}

int train_cmd(const app::Args& args) {
  try {
    return train_ranks(args);
  } catch (const surrogate::PeerFailure& e) {
    return e.code();  // the rank that failed first printed why
  }
}

FLARE_COMMAND("train", "train a FLARE surrogate on a dataset file (--device cpu|cuda)", train_cmd);

}  // namespace
