// Benchmark reporting shared by every `flare-surrogate bench <what>` command (llama-bench style):
// a markdown table for people, and JSONL lines for machines, each line carrying the commit, the
// hardware and the configuration, so a number can always be traced to the code and machine that
// produced it.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace flare::app {

using OrderedJson = nlohmann::ordered_json;

struct Timing {
  double mean_ms = 0, std_ms = 0, min_ms = 0, median_ms = 0;
  int reps = 0;
};

/// Runs fn `warmup` times untimed, then `reps` times timed with a steady wall clock. For GPU work,
/// fn must synchronise (or time with events and build Timing from samples_to_timing).
Timing time_it(const std::function<void()>& fn, int warmup, int reps);
/// Mean, σ, min and median of per-repetition times in milliseconds.
Timing samples_to_timing(std::vector<double> ms);

/// The machine this runs on: CPU model, logical cores, host name, OS (GPU fields are added by the
/// CUDA benchmarks through BenchReport::hardware()).
OrderedJson cpu_hardware();

class BenchReport {
 public:
  /// @param bench   benchmark name ("io", "model", "mixer", ...)
  /// @param config  settings common to all rows (sizes, device, precision, repetitions)
  BenchReport(std::string bench, OrderedJson config);

  /// Adds one row; its keys (in insertion order) are the table's columns.
  void add(OrderedJson row);
  /// Hardware description written into every JSONL line; add GPU facts here.
  OrderedJson& hardware() { return m_hardware; }

  /// Markdown table with a caption naming the commit, the hardware and the command.
  void print_markdown(std::ostream& os) const;
  /// Appends one JSON line per row: {bench, commit, date, hardware, config, row...}. Atomic for the
  /// whole file (rewritten through write_atomically).
  void append_jsonl(const std::filesystem::path& path) const;

  const std::vector<OrderedJson>& rows() const { return m_rows; }

 private:
  std::string m_bench;
  OrderedJson m_config;
  OrderedJson m_hardware;
  std::vector<OrderedJson> m_rows;
};

/// The JSON objects of a JSONL file such as a PyTorch baseline (blank lines skipped). InputError
/// naming the file when it cannot be read ("<who>: cannot read <path> (<hint>)") or when a line
/// is not a JSON object.
std::vector<OrderedJson> read_jsonl(const std::string& path, const std::string& who,
                                    const std::string& hint);

/// The commit the binary was built from ("abc123def456", "-dirty" suffix for local changes).
const char* git_commit();

}  // namespace flare::app
