#include "common/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "common/error.h"

namespace flare {

namespace fs = std::filesystem;

void check_writable(const fs::path& target) {
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  FLARE_INPUT_CHECK(fs::is_directory(dir), target.string(), ": output directory '", dir.string(),
                    "' does not exist (create it first)");
  FLARE_INPUT_CHECK(::access(dir.c_str(), W_OK) == 0, target.string(), ": output directory '",
                    dir.string(), "' is not writable");
  FLARE_INPUT_CHECK(!fs::is_directory(target), target.string(),
                    ": is a directory, expected a file name");
}

void write_atomically(const fs::path& target, const std::function<void(const fs::path&)>& write) {
  check_writable(target);
  static std::atomic<unsigned> counter{0};
  // The temporary keeps the target's extension: some writers (VTK, HDF5) look at it.
  fs::path tmp = target;
  tmp.replace_filename("." + target.stem().string() + ".tmp" + std::to_string(::getpid()) + "_" +
                       std::to_string(counter++) + target.extension().string());
  try {
    write(tmp);
    fs::rename(tmp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

}  // namespace flare
