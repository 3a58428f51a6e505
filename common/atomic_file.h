// Atomic output: write to a temporary file in the destination directory, then rename over the
// target. A crash, a Ctrl-C or an exception leaves either the old file or the complete new one,
// never a half-written file.
#pragma once

#include <filesystem>
#include <functional>

namespace flare {

/// Calls write(tmp_path) with a temporary path next to `target`, then renames it onto `target`.
/// If write throws, the temporary file is removed and the exception propagates; `target` is
/// untouched.
void write_atomically(const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& tmp)>& write);

/// Throws InputError if `target`'s directory does not exist or is not writable, before any work.
void check_writable(const std::filesystem::path& target);

}  // namespace flare
