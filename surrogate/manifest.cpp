#include "surrogate/manifest.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace flare::surrogate {

namespace fs = std::filesystem;

namespace {

// Canonical absolute path, so "runs/a.vtu", "./runs/a.vtu" and an absolute path all match.
std::string key_of(const fs::path& p) { return fs::weakly_canonical(fs::absolute(p)).string(); }

using Listing = std::map<std::string, nlohmann::json>;

Listing read_listing(const fs::path& manifest) {
  const std::string src = manifest.string();
  std::ifstream f(manifest);
  FLARE_INPUT_CHECK(f.good(), src, ": no manifest here; --split manifest needs the manifest.json "
                    "that `flare-surrogate am dataset` writes next to its samples (or use "
                    "--split 0.8,0.1,0.1)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(src, ": not valid JSON (", e.what(),
                                    "); rerun `flare-surrogate am dataset` to rewrite it"));
  }
  FLARE_INPUT_CHECK(j.is_object() && j.contains("samples") && j["samples"].is_array(), src,
                    ": not an `am dataset` manifest (no \"samples\" list)");
  Listing out;
  for (const auto& s : j["samples"]) {
    FLARE_INPUT_CHECK(s.is_object() && s.contains("file") && s["file"].is_string(), src,
                      ": a sample entry has no \"file\"; rerun `flare-surrogate am dataset`");
    out[key_of(manifest.parent_path() / s["file"].get<std::string>())] = s;
  }
  return out;
}

}  // namespace

std::vector<ManifestEntry> read_manifest_entries(const std::vector<fs::path>& inputs) {
  std::map<std::string, Listing> manifests;  // by manifest path
  std::vector<ManifestEntry> out;
  for (const auto& in : inputs) {
    const fs::path manifest = fs::absolute(in).parent_path() / "manifest.json";
    auto it = manifests.find(manifest.string());
    if (it == manifests.end()) it = manifests.emplace(manifest.string(), read_listing(manifest)).first;
    const auto entry = it->second.find(key_of(in));
    FLARE_INPUT_CHECK(entry != it->second.end(), in.string(), ": not listed in ", manifest.string(),
                      "; --split manifest takes each input's split from the manifest next to it "
                      "(leave this file out, or use --split 0.8,0.1,0.1)");
    const nlohmann::json& s = entry->second;
    FLARE_INPUT_CHECK(!s.contains("error"), in.string(), ": ", manifest.string(),
                      " records this sample as failed (", s.value("error", std::string()),
                      "); leave it out or regenerate it");
    ManifestEntry e;
    e.split = s.value("split", std::string());
    e.family = s.contains("family") && s["family"].is_string() ? s["family"].get<std::string>() : "";
    FLARE_INPUT_CHECK(e.split == "train" || e.split == "val" || e.split == "test", in.string(),
                      ": ", manifest.string(), " gives split '", e.split,
                      "' (expected train, val or test)");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace flare::surrogate
