// Checkpoints: one HDF5 file per model (docs/architecture.md, STYLE.md §1).
//
//   attributes  format = "flare-surrogate", version, config (ModelConfig JSON), and free JSON
//               metadata slots normalizer, feature_recipe, training, training_domain
//               (null until a caller fills them; a slot missing from an older file reads null)
//   params/<name>       one dataset per tensor, FLARE.py state_dict names and shapes, fp32
//   optimizer/m, /v     AdamW moments, flat [P] in the parameter layout; attribute step
//                       (absent for inference-only checkpoints)
//   optimizer/params    the weights AdamW updates, flat [P], where they differ from params/:
//                       with `train --ema` params/ holds their moving average (what validation,
//                       eval and predict use) and this the iterate that training continues from
//   members/<k>/<name>  deep ensembles only (version 2, docs/uncertainty.md): the tensors of member
//                       k = 1..K-1, laid out as params/ (member 0); attribute `ensemble` holds
//                       the member count and calibration (surrogate/ensemble.h)
//
// Per-tensor datasets keep checkpoints readable by h5py (tests/reference/flare_torch.py loads
// them by name). Writing goes through flare::write_atomically. Loading checks format, version,
// config, the set of tensors and every shape, and rejects NaN/Inf, each with an InputError that
// names the file, the tensor and what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "surrogate/config.h"

namespace flare::surrogate {

inline constexpr const char* kCheckpointFormat = "flare-surrogate";
inline constexpr std::int64_t kCheckpointVersion = 1;
/// Written only for ensembles, so that a build which predates them refuses the file instead of
/// silently predicting with member 0 alone and no uncertainty. Single models stay version 1.
inline constexpr std::int64_t kEnsembleCheckpointVersion = 2;

struct Checkpoint {
  ModelConfig config;
  std::vector<float> params;  ///< [ParamLayout(config).size()]
  bool has_optimizer = false;
  std::vector<float> adam_m, adam_v;  ///< same layout as params
  /// The weights AdamW updates when params is their moving average (train --ema); empty when
  /// they are params itself. Only with has_optimizer.
  std::vector<float> adam_params;
  std::int64_t step = 0;              ///< optimizer steps done
  nlohmann::json normalizer;          ///< free slots; null = not set
  nlohmann::json feature_recipe;
  nlohmann::json training;
  nlohmann::json training_domain;  ///< surrogate/domain.h, copied from the dataset by `train`
  /// Deep ensemble: the weights of members 1..K-1, each in params' layout (params is member 0);
  /// empty for a single model. Ensembles are inference-only (no optimizer state).
  std::vector<std::vector<float>> more_members;
  nlohmann::json ensemble;  ///< surrogate/ensemble.h EnsembleInfo; null for a single model

  int num_members() const { return 1 + int(more_members.size()); }
  const std::vector<float>& member(int k) const {
    return k == 0 ? params : more_members[std::size_t(k - 1)];
  }
};

/// Writes atomically (temporary file, then rename). Throws flare::Error on I/O failure.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt);

/// Reads and validates; InputError naming the file for anything wrong with it.
Checkpoint load_checkpoint(const std::filesystem::path& path);

}  // namespace flare::surrogate
