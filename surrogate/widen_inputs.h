// Fine-tuning a trained model on data with more input columns than it was trained with: the
// checkpoint's recipe plus appended point arrays (`dataset build --recipe-from M --inputs NEW`,
// then `train --init-from M`). The new columns enter through zero weights, so the widened model
// starts as exactly the old one and training teaches it to use them (docs/architecture.md, "The
// coarse solve as an input").
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "mesh/features.h"
#include "surrogate/config.h"
#include "surrogate/normalizer.h"

namespace flare::surrogate {

/// How many feature kinds `data` appends to `model` (0 when they are equal). InputError naming
/// `model_source` and `data_source` unless `data` is `model` (same version, origin and length
/// scale, same features in order) followed only by array:<name> features.
int appended_inputs(const mesh::FeatureRecipe& model, const mesh::FeatureRecipe& data,
                    const std::string& model_source, const std::string& data_source);

/// The normaliser of the widened model: `model`'s statistics for its own columns (the weights
/// were fitted to them), `data`'s for the columns after them. `data` must have `model`'s feature
/// columns first and the same targets (InputError naming `model_source` otherwise).
Normalizer widen_normalizer(const Normalizer& model, const Normalizer& data,
                            const std::string& model_source);

/// `params` of a model of config `from` laid out for config `to`, which differs only in in_dim
/// (>= from's): the input layer's weight [out, in] gets zero columns for the new inputs; every
/// other tensor is copied.
std::vector<float> widen_inputs(const ModelConfig& from, const std::vector<float>& params,
                                const ModelConfig& to);

}  // namespace flare::surrogate
