// Progress reporting for long work (reading big meshes, dataset generation, training).
// On a terminal: one self-overwriting line with a bar, rate and ETA, redrawn at most 10 times a
// second. Not a terminal (CI, pipes, log files): silent, so logs stay clean; callers that want log
// lines print them themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace flare {

class Progress {
 public:
  /// @param total  number of units of work (0 = unknown)
  /// @param label  shown before the bar
  /// @param unit   unit name for the rate ("parts", "steps", ...)
  Progress(std::int64_t total, std::string label, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1);
  void set(std::int64_t done);
  /// Extra text shown after the rate (e.g. the current loss).
  void set_postfix(std::string text);
  /// Prints a line above the bar without breaking it.
  void println(const std::string& line);
  void finish();

  /// Whether the bar is drawn (stderr is a terminal and FLARE_NO_PROGRESS is unset).
  bool active() const { return m_active; }
  static bool stderr_is_terminal();

 private:
  void draw(bool force);
  void clear_line();

  std::int64_t m_total;
  std::int64_t m_done = 0;
  std::string m_label, m_unit, m_postfix;
  bool m_active;
  bool m_finished = false;
  std::chrono::steady_clock::time_point m_start, m_last_draw;
};

/// "1.23 s", "4.5 min", "2.1 h"
std::string format_duration(double seconds);

}  // namespace flare
