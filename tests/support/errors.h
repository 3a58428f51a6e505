// The message of the InputError a piece of code throws, for the bad-input tests.
#pragma once

#include <exception>
#include <string>

#include "common/error.h"

namespace flare::test {

/// The InputError message f throws; "<no InputError>" when it returns, and the message of any
/// other exception marked as such (so a wrong exception type fails the caller's expectation).
template <typename F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const flare::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other exception: ") + e.what() + ">";
  }
  return "<no InputError>";
}

}  // namespace flare::test
