// The manifest that `am dataset` writes next to its samples (DIR/manifest.json), read back so that
// `dataset build --split manifest` keeps the generator's split by part: a part and its siblings
// never leak from train into test because the dataset builder reshuffled them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace flare::surrogate {

/// What the manifest says about one input file.
struct ManifestEntry {
  std::string split;   ///< "train", "val" or "test"
  std::string family;  ///< part family ("" when the manifest does not say)
};

/// Looks up every input in the manifest.json of its own directory (each directory's manifest is
/// read once). Throws InputError naming the file when a manifest is missing or damaged, when an
/// input is not listed in it, when its entry records a failed sample, or when its split is not
/// train/val/test.
std::vector<ManifestEntry> read_manifest_entries(const std::vector<std::filesystem::path>& inputs);

}  // namespace flare::surrogate
