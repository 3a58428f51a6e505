#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace flare {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

bool Progress::stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1 && std::getenv("FLARE_NO_PROGRESS") == nullptr;
}

Progress::Progress(std::int64_t total, std::string label, std::string unit)
    : m_total(total),
      m_label(std::move(label)),
      m_unit(std::move(unit)),
      m_active(stderr_is_terminal()),
      m_start(Clock::now()),
      m_last_draw(Clock::time_point{}) {
  draw(true);
}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  m_done += n;
  draw(false);
}

void Progress::set(std::int64_t done) {
  m_done = done;
  draw(false);
}

void Progress::set_postfix(std::string text) { m_postfix = std::move(text); }

void Progress::clear_line() {
  if (m_active) std::fputs("\r\033[2K", stderr);
}

void Progress::println(const std::string& line) {
  clear_line();
  std::fprintf(m_active ? stderr : stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  draw(true);
}

void Progress::draw(bool force) {
  if (!m_active || m_finished) return;
  auto now = Clock::now();
  if (!force && now - m_last_draw < std::chrono::milliseconds(100) && m_done != m_total) return;
  m_last_draw = now;
  double elapsed = std::chrono::duration<double>(now - m_start).count();
  double rate = elapsed > 0 ? m_done / elapsed : 0;
  std::string bar;
  if (m_total > 0) {
    const int width = 28;
    double frac = std::clamp(double(m_done) / m_total, 0.0, 1.0);
    int filled = int(frac * width);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
    char buf[160];
    double eta = rate > 0 ? (m_total - m_done) / rate : 0;
    std::snprintf(buf, sizeof buf, " %lld/%lld %.1f %s/s ETA %s", (long long)m_done,
                  (long long)m_total, rate, m_unit.c_str(), format_duration(eta).c_str());
    bar += buf;
  } else {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld %s (%.1f/s)", (long long)m_done, m_unit.c_str(), rate);
    bar = buf;
  }
  clear_line();
  std::fprintf(stderr, "%s %s%s%s", m_label.c_str(), bar.c_str(), m_postfix.empty() ? "" : " | ",
               m_postfix.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (m_finished) return;
  draw(true);
  if (m_active) std::fputs("\n", stderr);
  m_finished = true;
}

}  // namespace flare
