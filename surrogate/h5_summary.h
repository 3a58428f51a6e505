// What is in a flare-surrogate .h5 file, as JSON, for `flare-surrogate info`: a checkpoint
// (surrogate/checkpoint.h) or a dataset (surrogate/dataset.h), told apart by the root `format`
// attribute. Each file is read through its own validating loader (load_checkpoint, Dataset), so
// `info` accepts exactly the files that train, eval and predict accept, with the same messages.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace flare::surrogate {

/// Summary of a checkpoint or a dataset, keys in display order; "kind" is "checkpoint" or
/// "dataset". Throws InputError naming the file when it is missing, not HDF5 (or truncated), an
/// HDF5 file of neither kind, or damaged.
///
/// checkpoint: format, version, model {config, parameters, pointwise_baseline}, resumable,
///   optimizer {step} or null, training {epoch, step, best_val, best_step, steps_per_epoch,
///   options, command_line, init_from} or null, features {names, recipe, recipe_version, frame, origin,
///   length_scale} or null, targets {arrays, components, names} or null, training_domain or null,
///   ensemble (surrogate/ensemble.h EnsembleInfo: members, sigma_scale, warn_score, sources,
///   calibration) or null for a single model; version is 2 for an ensemble.
/// features.frame is "plate" (recipe version 1: coordinates from `origin`) or "part" (version 2:
/// each mesh's own frame; origin null).
/// dataset: format, version, samples, points, points_per_sample {min, max}, splits {train, val,
///   test}, features {names, recipe, recipe_version, frame, origin, length_scale}, targets {arrays,
///   components, names}, families {name: samples} (unknown families counted under ""), stats
///   {features, targets: [{name, mean, std}]}, training_domain or null, provenance or null,
///   skipped.
nlohmann::ordered_json summarize_h5(const std::filesystem::path& path);

}  // namespace flare::surrogate
