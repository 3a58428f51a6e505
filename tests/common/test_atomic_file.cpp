#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("flare_atomic_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
using flare::test::read_text;
}  // namespace

TEST(AtomicFile, WritesThenRenames) {
  fs::path out = temp_dir() / "a.txt";
  flare::write_atomically(out, [&](const fs::path& tmp) {
    EXPECT_NE(tmp, out);
    EXPECT_EQ(tmp.parent_path(), out.parent_path());
    EXPECT_EQ(tmp.extension(), out.extension());
    std::ofstream(tmp) << "new";
    EXPECT_FALSE(fs::exists(out));
  });
  EXPECT_EQ(read_text(out), "new");
}

TEST(AtomicFile, FailureKeepsOldFileAndRemovesTemporary) {
  fs::path dir = temp_dir() / "keep";
  fs::create_directories(dir);
  fs::path out = dir / "b.vtu";
  std::ofstream(out) << "old";
  EXPECT_THROW(flare::write_atomically(out,
                                       [&](const fs::path& tmp) {
                                         std::ofstream(tmp) << "half";
                                         throw flare::Error("disk full");
                                       }),
               flare::Error);
  EXPECT_EQ(read_text(out), "old");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1) << "temporary file left behind";
}

TEST(AtomicFile, MissingDirectoryIsAnInputError) {
  fs::path out = temp_dir() / "no" / "such" / "dir" / "c.vtu";
  try {
    flare::write_atomically(out, [](const fs::path&) { FAIL() << "writer must not run"; });
    FAIL() << "expected InputError";
  } catch (const flare::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}
