#include "surrogate/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "surrogate/h5.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

namespace {
const char* kHint = " (the checkpoint is damaged or from a diverged run: retrain, or load an earlier checkpoint)";

void write_json_slot(hid_t f, const char* name, const nlohmann::json& j) {
  h5::write_attr_json(f, name, j);  // null is written as "null": every slot is always present
}

void check_finite(const std::string& file, const std::string& what, const std::vector<float>& v,
                  std::int64_t offset, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    FLARE_INPUT_CHECK(std::isfinite(v[offset + i]), file, ": ", what, " holds a non-finite value (",
                      v[offset + i], " at element ", i, ")", kHint);
}

// One model's tensors from `group` ("params" or "members/<k>"): the set of names and every shape
// must match the config, and no value may be NaN/Inf.
std::vector<float> read_tensors(hid_t f, const std::string& group, const ParamLayout& layout,
                                const std::string& file) {
  std::set<std::string> expected;
  for (const auto& t : layout.tensors()) expected.insert(t.name);
  for (const auto& name : h5::list_group(f, group))
    FLARE_INPUT_CHECK(expected.count(name), file, ": unexpected tensor ", group, "/", name,
                      " for its config (the file's config and tensors disagree: damaged or hand-edited)");
  std::vector<float> params(static_cast<std::size_t>(layout.size()));
  for (const auto& t : layout.tensors()) {
    const std::string ds = group + "/" + t.name;
    const auto shape = h5::dataset_shape(f, ds);
    FLARE_INPUT_CHECK(shape == t.shape, file, ": tensor ", ds, " has shape ",
                      nlohmann::json(shape).dump(), ", the config needs ",
                      nlohmann::json(t.shape).dump(),
                      " (the file's config and tensors disagree: damaged or hand-edited)");
    h5::read_dataset(f, ds, params.data() + t.offset, t.size);
    check_finite(file, "tensor " + ds, params, t.offset, t.size);
  }
  return params;
}

void write_tensors(hid_t g, const ParamLayout& layout, const std::vector<float>& params) {
  for (const auto& t : layout.tensors())
    h5::write_dataset(g, t.name, params.data() + t.offset, t.shape);
}
}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt) {
  const ParamLayout layout(ckpt.config);
  FLARE_CHECK(static_cast<std::int64_t>(ckpt.params.size()) == layout.size(),
              "save_checkpoint: ", ckpt.params.size(), " parameters, the config needs ", layout.size());
  if (ckpt.has_optimizer)
    FLARE_CHECK(ckpt.adam_m.size() == ckpt.params.size() && ckpt.adam_v.size() == ckpt.params.size(),
                "save_checkpoint: optimizer moments do not match the parameters");
  FLARE_CHECK(ckpt.adam_params.empty() ||
                  (ckpt.has_optimizer && ckpt.adam_params.size() == ckpt.params.size()),
              "save_checkpoint: optimizer params need the optimizer state and the parameter size");
  const bool ensemble = !ckpt.more_members.empty();
  FLARE_CHECK(!ensemble || (!ckpt.has_optimizer && ckpt.ensemble.is_object()),
              "save_checkpoint: an ensemble needs its `ensemble` record and holds no optimizer state");
  for (const auto& m : ckpt.more_members)
    FLARE_CHECK(m.size() == ckpt.params.size(), "save_checkpoint: an ensemble member has ",
                m.size(), " parameters, the config needs ", layout.size());
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    h5::Handle f = h5::create_file(tmp);
    h5::write_attr(f, "format", std::string(kCheckpointFormat));
    h5::write_attr(f, "version", ensemble ? kEnsembleCheckpointVersion : kCheckpointVersion);
    h5::write_attr_json(f, "config", to_json(ckpt.config));
    write_json_slot(f, "normalizer", ckpt.normalizer);
    write_json_slot(f, "feature_recipe", ckpt.feature_recipe);
    write_json_slot(f, "training", ckpt.training);
    write_json_slot(f, "training_domain", ckpt.training_domain);
    write_tensors(h5::create_group(f, "params"), layout, ckpt.params);
    if (ensemble) {
      write_json_slot(f, "ensemble", ckpt.ensemble);
      h5::Handle members = h5::create_group(f, "members");
      for (int k = 1; k < ckpt.num_members(); ++k)
        write_tensors(h5::create_group(members, std::to_string(k)), layout, ckpt.member(k));
    }
    if (ckpt.has_optimizer) {
      h5::Handle o = h5::create_group(f, "optimizer");
      h5::write_dataset(o, "m", ckpt.adam_m.data(), {layout.size()});
      h5::write_dataset(o, "v", ckpt.adam_v.data(), {layout.size()});
      if (!ckpt.adam_params.empty())
        h5::write_dataset(o, "params", ckpt.adam_params.data(), {layout.size()});
      h5::write_attr(o, "step", ckpt.step);
    }
  });
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  const std::string file = path.string();
  h5::Handle f = h5::open_file(path);
  FLARE_INPUT_CHECK(h5::has_attr(f, "format"), file,
                    ": not a flare-surrogate checkpoint (no 'format' attribute)");
  const std::string format = h5::read_attr_string(f, "format");
  FLARE_INPUT_CHECK(format == kCheckpointFormat, file, ": format is '", format, "', expected '",
                    kCheckpointFormat, "' (is this a dataset or another tool's file?)");
  const std::int64_t version = h5::read_attr_int(f, "version");
  FLARE_INPUT_CHECK(version == kCheckpointVersion || version == kEnsembleCheckpointVersion, file,
                    ": checkpoint version ", version, ", this build reads versions ",
                    kCheckpointVersion, " and ", kEnsembleCheckpointVersion,
                    " (use the flare-surrogate release that wrote it, or retrain)");

  Checkpoint ck;
  ck.config = config_from_json(h5::read_attr_json(f, "config"), file);
  for (auto [name, slot] : {std::pair{"normalizer", &ck.normalizer},
                            std::pair{"feature_recipe", &ck.feature_recipe},
                            std::pair{"training", &ck.training},
                            std::pair{"training_domain", &ck.training_domain}})
    if (h5::has_attr(f, name)) *slot = h5::read_attr_json(f, name);

  const ParamLayout layout(ck.config);
  ck.params = read_tensors(f, "params", layout, file);
  if (version == kEnsembleCheckpointVersion) {
    FLARE_INPUT_CHECK(h5::has_attr(f, "ensemble") && h5::exists(f, "members"), file,
                      ": a version-2 (ensemble) checkpoint without its ensemble record or members"
                      " (damaged: rebuild it with flare-surrogate model ensemble)");
    ck.ensemble = h5::read_attr_json(f, "ensemble");
    const auto members = h5::list_group(f, "members");
    const auto count = ck.ensemble.is_object() ? ck.ensemble.value("members", nlohmann::json()) : nlohmann::json();
    FLARE_INPUT_CHECK(count.is_number_integer() && count.get<std::int64_t>() == std::int64_t(members.size()) + 1 &&
                          members.size() >= 1,
                      file, ": the ensemble record says ", count.dump(), " members but the file holds ",
                      members.size() + 1, " (damaged: rebuild it with flare-surrogate model ensemble)");
    for (std::size_t k = 1; k <= members.size(); ++k) {
      FLARE_INPUT_CHECK(h5::exists(f, "members/" + std::to_string(k)), file, ": ensemble member ",
                        k, " is missing (damaged: rebuild it with flare-surrogate model ensemble)");
      ck.more_members.push_back(read_tensors(f, "members/" + std::to_string(k), layout, file));
    }
  }
  if (h5::exists(f, "optimizer")) {
    h5::Handle o = h5::open_group(f, "optimizer");
    ck.has_optimizer = true;
    for (auto [name, buf] : {std::pair{"m", &ck.adam_m}, std::pair{"v", &ck.adam_v},
                             std::pair{"params", &ck.adam_params}}) {
      if (std::string(name) == "params" && !h5::exists(o, name)) continue;  // no --ema
      const auto shape = h5::dataset_shape(o, name);
      FLARE_INPUT_CHECK(shape == std::vector<std::int64_t>{layout.size()}, file, ": optimizer/",
                        name, " has shape ", nlohmann::json(shape).dump(), ", expected [",
                        layout.size(), "]");
      buf->resize(static_cast<std::size_t>(layout.size()));
      h5::read_dataset(o, name, buf->data(), layout.size());
      check_finite(file, std::string("optimizer/") + name, *buf, 0, layout.size());
    }
    ck.step = h5::read_attr_int(o, "step");
    FLARE_INPUT_CHECK(ck.step >= 0, file, ": optimizer step is negative (", ck.step, ")");
  }
  return ck;
}

}  // namespace flare::surrogate
