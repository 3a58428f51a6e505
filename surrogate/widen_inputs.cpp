#include "surrogate/widen_inputs.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "surrogate/param_layout.h"

namespace flare::surrogate {

int appended_inputs(const mesh::FeatureRecipe& model, const mesh::FeatureRecipe& data,
                    const std::string& model_source, const std::string& data_source) {
  const auto& a = model.features;
  const auto& b = data.features;
  const bool prefix = b.size() >= a.size() && std::equal(a.begin(), a.end(), b.begin()) &&
                      std::all_of(b.begin() + std::ptrdiff_t(a.size()), b.end(),
                                  [](const std::string& f) { return f.rfind("array:", 0) == 0; });
  FLARE_INPUT_CHECK(model.version == data.version && model.length_scale == data.length_scale &&
                        model.origin == data.origin && prefix,
                    "--init-from: ", data_source, " computes its features with another recipe than ",
                    model_source, " (its length scale or feature list differs; only point arrays "
                    "appended to its features can be added), so the model would see its parts at "
                    "another scale; build it with `dataset build --recipe-from ", model_source, "`");
  return int(b.size() - a.size());
}

Normalizer widen_normalizer(const Normalizer& model, const Normalizer& data,
                            const std::string& model_source) {
  const std::size_t F = model.feature_names.size();
  FLARE_INPUT_CHECK(data.feature_names.size() >= F &&
                        std::equal(model.feature_names.begin(), model.feature_names.end(),
                                   data.feature_names.begin()) &&
                        data.target_names == model.target_names,
                    "--init-from: the dataset's feature or target columns are not those of ",
                    model_source, " followed by new inputs; build it with the same --target and "
                    "its --inputs first");
  Normalizer n = model;
  for (std::size_t c = F; c < data.feature_names.size(); ++c) {
    n.feature_names.push_back(data.feature_names[c]);
    n.feature_mean.push_back(data.feature_mean[c]);
    n.feature_std.push_back(data.feature_std[c]);
  }
  return n;
}

std::vector<float> widen_inputs(const ModelConfig& from, const std::vector<float>& params,
                                const ModelConfig& to) {
  ModelConfig same = to;
  same.in_dim = from.in_dim;
  FLARE_CHECK(same == from && to.in_dim >= from.in_dim, "widen_inputs: the configs differ in more "
              "than a wider input");
  const ParamLayout a(from), b(to);
  FLARE_CHECK(std::int64_t(params.size()) == a.size(), "widen_inputs: ", params.size(),
              " parameters for a layout of ", a.size());
  std::vector<float> out(std::size_t(b.size()), 0.0f);
  for (const ParamInfo& t : b.tensors()) {
    const auto it = std::find_if(a.tensors().begin(), a.tensors().end(),
                                 [&](const ParamInfo& s) { return s.name == t.name; });
    FLARE_CHECK(it != a.tensors().end(), "widen_inputs: no tensor ", t.name, " in the old layout");
    if (it->shape == t.shape) {
      std::copy_n(params.begin() + it->offset, t.size, out.begin() + t.offset);
      continue;
    }
    // The input layer (in_proj.fc1, or in_proj.fc of a model without hidden layers): [out, in].
    FLARE_CHECK(t.shape.size() == 2 && it->shape.size() == 2 && t.shape[0] == it->shape[0] &&
                    t.shape[1] == to.in_dim && it->shape[1] == from.in_dim,
                "widen_inputs: tensor ", t.name, " changes shape beyond the input columns");
    for (std::int64_t r = 0; r < t.shape[0]; ++r)
      std::copy_n(params.begin() + it->offset + r * it->shape[1], it->shape[1],
                  out.begin() + t.offset + r * t.shape[1]);
  }
  return out;
}

}  // namespace flare::surrogate
