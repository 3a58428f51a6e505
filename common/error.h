// Errors for the whole project. Library code throws; only app/main.cpp turns an exception into a
// message and an exit code (never exit() in a library: tests could not catch it).
//
// Two kinds, because the CLI reports them differently:
//   flare::InputError  - the user can fix it (bad file, wrong array, mismatched checkpoint):
//                        one line naming the file and the problem, exit code 2.
//   flare::Error       - anything else (a bug, a CUDA failure): same line, exit code 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace flare {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace flare

// FLARE_CHECK(cond, msg...) throws flare::Error with the stream-concatenated message when cond fails.
// Use for preconditions of library entry points (shapes, sizes); the message says what was expected.
#define FLARE_CHECK(cond, ...)                                                                 \
  do {                                                                                         \
    if (!(cond))                                                                               \
      throw ::flare::Error(::flare::detail::concat(__VA_ARGS__, " [", #cond, " at ", __FILE__, \
                                                   ":", __LINE__, "]"));                      \
  } while (0)

// FLARE_INPUT_CHECK(cond, msg...) is for problems with what the user gave us; the message must name
// the file or option and, where possible, say how to fix it.
#define FLARE_INPUT_CHECK(cond, ...)                                              \
  do {                                                                            \
    if (!(cond)) throw ::flare::InputError(::flare::detail::concat(__VA_ARGS__)); \
  } while (0)
