// Launching flare-surrogate under mpirun for the data-parallel tests (docs/distributed.md).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "surrogate/checkpoint.h"
#include "tests/support/cli.h"

namespace flare::test {

/// The launcher: $FLARE_MPIRUN, else the mpiexec CMake found (FLARE_MPIEXEC).
inline std::string mpirun_path() {
  const char* env = std::getenv("FLARE_MPIRUN");
  return env && *env ? env : FLARE_MPIEXEC;
}

inline bool mpirun_available() {
  const std::string p = mpirun_path();
  return p.find('/') == std::string::npos ? run_command("command -v " + p).code == 0
                                          : ::access(p.c_str(), X_OK) == 0;
}

/// `mpirun -np N [--allow-run-as-root] --oversubscribe flare-surrogate ARGS`, Open MPI's flags: CI
/// runs as root on 2 cores. OMP_NUM_THREADS=1 keeps two ranks off each other's cores.
/// `mpi_flags` go to mpirun (e.g. "-x CUDA_VISIBLE_DEVICES=0").
inline CommandResult run_mpi(int ranks, const std::string& args,
                             const std::string& mpi_flags = "") {
  const char* bin = std::getenv("FLARE_TEST_BINARY");
  std::string cmd =
      mpirun_path() + " -np " + std::to_string(ranks) + " --oversubscribe " + mpi_flags;
  if (::geteuid() == 0) cmd += " --allow-run-as-root";
  cmd += " -x OMP_NUM_THREADS=1 " + std::string(bin ? bin : FLARE_BINARY) + " " + args;
  return run_command(cmd);
}

/// Lines of `out` that start with `prefix`.
inline int count_lines_starting(const std::string& out, const std::string& prefix) {
  int n = 0;
  std::size_t at = 0;
  while (at < out.size()) {
    const std::size_t end = std::min(out.find('\n', at), out.size());
    if (out.compare(at, prefix.size(), prefix) == 0) ++n;
    at = end + 1;
  }
  return n;
}

/// The "loss" of each training record of a --metrics JSONL file, in order.
inline std::vector<double> metric_losses(const std::filesystem::path& jsonl) {
  std::vector<double> losses;
  std::ifstream f(jsonl);
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("kind") == "train") losses.push_back(j.at("loss"));
  }
  return losses;
}

/// max |a − b| / max(max |b|, floor) over two equal-length arrays (inf when lengths differ).
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b,
                           double floor = 1e-3) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double diff = 0, scale = floor;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

/// Expects the runs with output stems `a` and `b` in `dir` (<stem>.last.h5, <stem>.jsonl) to have
/// ended in the same state: step, options, parameters, AdamW moments and the weights behind an
/// average within `tol` of the largest value, the same training losses and best validation.
inline void expect_same_state(const std::filesystem::path& dir, const std::string& a,
                              const std::string& b, double tol) {
  const auto ca = surrogate::load_checkpoint(dir / (a + ".last.h5"));
  const auto cb = surrogate::load_checkpoint(dir / (b + ".last.h5"));
  EXPECT_EQ(ca.training.at("step"), cb.training.at("step"));
  EXPECT_EQ(ca.training.at("options"), cb.training.at("options"));
  EXPECT_LE(max_rel_diff(ca.params, cb.params), tol);
  EXPECT_LE(max_rel_diff(ca.adam_m, cb.adam_m, 1e-6), tol);
  EXPECT_LE(max_rel_diff(ca.adam_v, cb.adam_v, 1e-9), tol);
  ASSERT_EQ(ca.adam_params.size(), cb.adam_params.size());
  if (!ca.adam_params.empty()) EXPECT_LE(max_rel_diff(ca.adam_params, cb.adam_params), tol);
  const auto la = metric_losses(dir / (a + ".jsonl")), lb = metric_losses(dir / (b + ".jsonl"));
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], tol * lb[i]) << i;
  if (ca.training.at("best_val").is_number())
    EXPECT_NEAR(ca.training.at("best_val").get<double>(), cb.training.at("best_val").get<double>(),
                tol);
}

}  // namespace flare::test
