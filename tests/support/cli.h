// Runs shell commands and the built flare-surrogate for the CLI tests: exit code and output.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace flare::test {

struct CommandResult {
  int code = -1;    ///< exit status, -1 when the command did not exit normally
  std::string out;  ///< stdout, and stderr when merged
};

inline CommandResult run_command(const std::string& cmd, bool merge_stderr = true) {
  CommandResult r;
  FILE* p = popen((cmd + (merge_stderr ? " 2>&1" : "")).c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// `flare-surrogate ARGS`. FLARE_TEST_BINARY replaces the binary (on the GPU host it is the
/// bundle's wrapper, `.device/run flare-surrogate`).
inline CommandResult run_cli(const std::string& args, bool merge_stderr = true) {
  const char* env = std::getenv("FLARE_TEST_BINARY");
  return run_command(std::string(env ? env : FLARE_BINARY) + " " + args, merge_stderr);
}

/// The whole file as text (empty when it cannot be read): a command's output files and logs.
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

/// Lines of a command's output (the one-line-error tests count them).
inline int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

}  // namespace flare::test
