#include "surrogate/h5_summary.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "common/error.h"
#include "mesh/features.h"
#include "surrogate/checkpoint.h"
#include "surrogate/dataset.h"
#include "surrogate/domain.h"
#include "surrogate/ensemble.h"
#include "surrogate/h5.h"
#include "surrogate/normalizer.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

namespace {

using Json = nlohmann::ordered_json;

Json recipe_json(const mesh::FeatureRecipe& r, const std::vector<std::string>& names) {
  // frame: where coordinates are measured from (mesh/features.h "Recipe versions").
  return {{"names", names},
          {"recipe", r.features},
          {"recipe_version", r.version},
          {"frame", r.version == 1 ? "plate" : "part"},
          {"origin", r.version == 1 ? Json{r.origin.x(), r.origin.y(), r.origin.z()} : Json()},
          {"length_scale", r.length_scale}};
}

Json targets_json(const std::vector<std::string>& arrays, const std::vector<int>& components,
                  const std::vector<std::string>& names) {
  return {{"arrays", arrays}, {"components", components}, {"names", names}};
}

// The training slot is free JSON written by `train`; a field an older or hand-made file lacks is
// reported as null rather than refusing the whole file.
Json training_json(const nlohmann::json& t, const std::string& file) {
  if (!t.is_object()) return nullptr;
  Json out;
  for (const char* key : {"epoch", "step", "best_val", "best_step", "steps_per_epoch"})
    out[key] = t.contains(key) ? Json(t.at(key)) : Json(nullptr);
  const nlohmann::json options = t.value("options", nlohmann::json::object());
  FLARE_INPUT_CHECK(options.is_object(), file,
                    ": damaged training metadata (options is not an object)");
  // The model config is reported once, under "model"; the rest are the run's options.
  Json kept = Json::object();
  for (const auto& [key, value] : options.items())
    if (key != "model") kept[key] = Json(value);
  out["options"] = kept;
  out["command_line"] = t.value("command_line", std::string());
  // Where a fine-tuned run started (`train --init-from`): {file, step, member?}; null otherwise.
  out["init_from"] = t.contains("init_from") ? Json(t.at("init_from")) : Json(nullptr);
  return out;
}

Json checkpoint_summary(const std::filesystem::path& path) {
  const std::string file = path.string();
  const Checkpoint ck = load_checkpoint(path);
  Json j;
  j["kind"] = "checkpoint";
  j["file"] = file;
  j["format"] = kCheckpointFormat;
  j["version"] = ck.more_members.empty() ? kCheckpointVersion : kEnsembleCheckpointVersion;
  j["model"] = {{"config", Json(to_json(ck.config))},
                {"parameters", ParamLayout(ck.config).size()},
                {"pointwise_baseline", ck.config.num_blocks == 0}};
  // Resuming needs both the optimizer moments and the loop position `train` stores beside them.
  j["resumable"] = ck.has_optimizer && ck.training.is_object();
  j["optimizer"] = ck.has_optimizer ? Json{{"step", ck.step}} : Json(nullptr);
  try {
    j["training"] = training_json(ck.training, file);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(file, ": damaged training metadata (", e.what(), ")"));
  }
  j["features"] = nullptr;
  j["targets"] = nullptr;
  if (!ck.normalizer.is_null()) {
    const Normalizer n = Normalizer::from_json(ck.normalizer, file);
    j["targets"] = targets_json(n.target_arrays, n.target_components, n.target_names);
    if (!ck.feature_recipe.is_null())
      j["features"] =
          recipe_json(mesh::FeatureRecipe::from_json(ck.feature_recipe, file), n.feature_names);
  }
  j["training_domain"] = nullptr;
  if (!ck.training_domain.is_null())
    j["training_domain"] = Json(TrainingDomain::from_json(ck.training_domain, file).to_json());
  j["ensemble"] = ck.more_members.empty()
                      ? Json(nullptr)
                      : Json(EnsembleInfo::from_json(ck.ensemble, file).to_json());
  return j;
}

Json dataset_summary(const std::filesystem::path& path) {
  const std::string file = path.string();
  const Dataset d(path);
  Json j;
  j["kind"] = "dataset";
  j["file"] = file;
  j["format"] = kDatasetFormat;
  j["version"] = kDatasetVersion;
  j["samples"] = d.num_samples();
  j["points"] = d.offsets().back();
  std::int64_t lo = d.num_points(0), hi = lo;
  for (std::int64_t s = 1; s < d.num_samples(); ++s) {
    lo = std::min(lo, d.num_points(s));
    hi = std::max(hi, d.num_points(s));
  }
  j["points_per_sample"] = {{"min", lo}, {"max", hi}};
  j["splits"] = Json::object();
  for (const char* name : {"train", "val", "test"}) j["splits"][name] = d.split(name).size();
  j["features"] = recipe_json(d.recipe(), d.feature_names());
  j["targets"] = targets_json(d.target_arrays(), d.target_components(), d.target_names());
  std::map<std::string, std::int64_t> families;
  for (const auto& f : d.families()) ++families[f];
  j["families"] = families;
  const auto columns = [](const std::vector<std::string>& names, const std::vector<double>& mean,
                          const std::vector<double>& sd) {
    Json out = Json::array();
    for (std::size_t c = 0; c < names.size(); ++c)
      out.push_back({{"name", names[c]}, {"mean", mean[c]}, {"std", sd[c]}});
    return out;
  };
  j["stats"] = {{"split", "train"},
                {"features", columns(d.feature_names(), d.feature_mean(), d.feature_std())},
                {"targets", columns(d.target_names(), d.target_mean(), d.target_std())}};
  j["training_domain"] = d.training_domain().is_null() ? Json(nullptr) : Json(d.training_domain());
  // Provenance and the skipped inputs are informational: Dataset does not need them, so they are
  // read here, and an older file without them reads as null / empty.
  const h5::Handle f = h5::open_file(path);
  j["provenance"] =
      h5::has_attr(f, "provenance") ? Json(h5::read_attr_json(f, "provenance")) : Json(nullptr);
  j["skipped"] =
      h5::has_attr(f, "skipped") ? Json(h5::read_attr_json(f, "skipped")) : Json::array();
  FLARE_INPUT_CHECK(
      j["skipped"].is_array() && (j["provenance"].is_null() || j["provenance"].is_object()), file,
      ": damaged dataset metadata (provenance or skipped list)");
  return j;
}

}  // namespace

nlohmann::ordered_json summarize_h5(const std::filesystem::path& path) {
  const std::string file = path.string();
  // HDF5 reports an unreadable file as "not HDF5"; say what is really wrong.
  FLARE_INPUT_CHECK(!std::filesystem::exists(path) || std::ifstream(path).good(), file,
                    ": cannot be read (check its permissions)");
  std::string format;
  {
    const h5::Handle f = h5::open_file(path);
    FLARE_INPUT_CHECK(
        h5::has_attr(f, "format"), file,
        ": an HDF5 file but neither a flare-surrogate checkpoint nor a dataset (no "
        "'format' attribute); info reads files written by 'train' and 'dataset build'");
    format = h5::read_attr_string(f, "format");
  }
  if (format == kCheckpointFormat) return checkpoint_summary(path);
  if (format == kDatasetFormat) return dataset_summary(path);
  throw InputError(detail::concat(file,
                                  ": an HDF5 file but neither a flare-surrogate checkpoint "
                                  "nor a dataset (format '",
                                  format,
                                  "'); info reads files "
                                  "written by 'train' and 'dataset build'"));
}

}  // namespace flare::surrogate
