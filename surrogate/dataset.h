// The training dataset: one HDF5 file of packed ragged arrays built from solved meshes.
//
// Layout (S samples, ΣN points in all, F feature and T target channels):
//   /features  [ΣN, F] float32     /targets [ΣN, T] float32     /points [ΣN, 3] float64
//   /offsets   [S+1] int64          sample s owns rows offsets[s] .. offsets[s+1]
//   /split/train, /split/val, /split/test    [k] int64 sample indices (split by sample, seeded)
//   /stats/feature_mean, feature_std [F], target_mean, target_std [T] float64 (TRAIN split only;
//   with a version-2 recipe the x and y columns of each in-plane vector share mean 0 and one std,
//   see build_dataset)
//   root attributes: format = "flare-surrogate-dataset", version, feature_recipe (JSON),
//   feature_names, target_arrays, target_components, target_names, sources, skipped (JSON),
//   provenance (JSON: tool version, command line, date), families (JSON [S]: each sample's part
//   family, "" when unknown), training_domain (JSON, surrogate/domain.h: node count, extent and
//   edge-length ranges of the TRAIN split). The last two are absent from older files and read as
//   empty families and no domain.
// Reading one sample is a hyperslab of each packed array, never a full load.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mesh/features.h"
#include "mesh/mesh.h"
#include "surrogate/domain.h"
#include "surrogate/h5.h"

namespace flare::surrogate {

inline constexpr const char* kDatasetFormat = "flare-surrogate-dataset";
inline constexpr std::int64_t kDatasetVersion = 1;

struct DatasetBuildOptions {
  std::vector<std::filesystem::path> inputs;       ///< solved meshes, one sample each
  std::filesystem::path output;                    ///< the .h5 to write (atomically)
  std::vector<std::string> targets;                ///< point arrays to predict, in column order
  std::vector<std::string> input_arrays;           ///< extra point arrays used as features
  std::array<double, 3> split{0.8, 0.1, 0.1};      ///< train, val, test fractions (sum 1)
  /// Per input "train", "val" or "test" (from an `am dataset` manifest); when set it replaces the
  /// seeded split by `split` fractions. Same length as `inputs`.
  std::vector<std::string> sample_splits;
  /// Per input part family, used where the mesh has no "family" field string. Empty or same length
  /// as `inputs`.
  std::vector<std::string> sample_families;
  std::uint64_t seed = 0;                          ///< split shuffle seed
  /// Feature recipe version (mesh/features.h): 2 = part frame; 1 = absolute plate coordinates,
  /// only to rebuild the data of the bundled version-1 models or to compare against them.
  int recipe_version = mesh::FeatureRecipe::kVersion;
  /// A fitted recipe to use as it is (`dataset build --recipe-from CKPT`: a trained model's), in
  /// place of fitting one on these train parts; null = fit. A model fine-tuned on new parts
  /// (`train --init-from`) must see their features as it saw the old ones: a length scale fitted
  /// again would rescale every length feature. Its input arrays must be input_arrays, and its
  /// version replaces recipe_version.
  nlohmann::json fixed_recipe;
  bool skip_bad = false;                           ///< skip and report bad inputs instead of failing
  std::string tool_version = "unknown";            ///< provenance
  std::string command_line;                        ///< provenance
};

struct DatasetBuildResult {
  std::int64_t samples = 0, points = 0;
  std::array<std::int64_t, 3> split_sizes{};       ///< train, val, test
  std::vector<std::pair<std::string, std::string>> skipped;  ///< file, reason
  std::vector<std::string> feature_names, target_names;
};

/// Reads one input mesh (the CLI passes the VTK reader; tests pass in-memory meshes).
/// The point arrays `arrays` of `m` side by side as float rows [N, Σ components] (the arrays must
/// exist): the targets as `dataset build` stores them and `eval` compares against.
mesh::FeatureMatrix target_rows(const mesh::Mesh& m, const std::vector<std::string>& arrays);

using MeshReader = std::function<mesh::Mesh(const std::filesystem::path&)>;
/// Optional progress/log sink for messages such as "skipped a.vtu: ..." (may be empty).
using DatasetLog = std::function<void(const std::string&)>;

/// Builds the dataset file. Pass 1 reads and validates every input (empty mesh, missing target
/// or input array, non-finite target, inconsistent component counts) and collects the training
/// bounds; the feature normalisation (recipe origin and length scale) is then fitted on the TRAIN
/// split; pass 2 computes features and writes each sample's rows. A bad input throws InputError
/// naming the file, or with skip_bad is left out and listed in the result and the file.
///
/// Statistics: per channel over the train rows, except that with a version-2 recipe the two
/// columns of every in-plane vector pair (PlaneSymmetry: coord_x/y, normal_x/y, the x/y
/// components of 3-component input and target arrays) get mean 0 and one std, the root mean
/// square of both about 0. A part rotated about z or mirrored then gets inputs and targets scaled
/// the same way, and the augmentation (surrogate/augment.h) commutes with the normalisation.
DatasetBuildResult build_dataset(const DatasetBuildOptions& options, const MeshReader& read,
                                 const DatasetLog& log = {});

/// Sample indices 0..count-1 shuffled by `seed` (portable: the same on every platform) and cut
/// into train/val/test by `fractions` (rounded; train gets at least one sample when count > 0).
std::array<std::vector<std::int64_t>, 3> split_samples(std::int64_t count,
                                                       const std::array<double, 3>& fractions,
                                                       std::uint64_t seed);

/// Read access to a dataset file. Metadata is loaded on open; samples are read on demand.
class Dataset {
 public:
  /// Throws InputError naming the file when it is missing, not HDF5, not a flare-surrogate
  /// dataset, of another version, internally inconsistent, or when its statistics are not finite
  /// (means) and positive (standard deviations).
  explicit Dataset(const std::filesystem::path& path);

  std::int64_t num_samples() const { return std::int64_t(m_offsets.size()) - 1; }
  std::int64_t num_points(std::int64_t sample) const;
  std::int64_t num_features() const { return std::int64_t(m_feature_names.size()); }
  std::int64_t num_targets() const { return std::int64_t(m_target_names.size()); }
  const std::vector<std::int64_t>& offsets() const { return m_offsets; }
  /// "train", "val" or "test".
  const std::vector<std::int64_t>& split(const std::string& name) const;

  const mesh::FeatureRecipe& recipe() const { return m_recipe; }
  const std::vector<std::string>& feature_names() const { return m_feature_names; }
  const std::vector<std::string>& target_names() const { return m_target_names; }
  const std::vector<std::string>& target_arrays() const { return m_target_arrays; }
  const std::vector<int>& target_components() const { return m_target_components; }
  const std::vector<std::string>& sources() const { return m_sources; }
  /// Part family of each sample (the "family" field string `am` writes), "" when unknown.
  const std::vector<std::string>& families() const { return m_families; }
  /// Ranges of the train split's meshes (surrogate/domain.h); null for datasets written before
  /// the domain was recorded.
  const nlohmann::json& training_domain() const { return m_training_domain; }
  const std::vector<double>& feature_mean() const { return m_feature_mean; }
  const std::vector<double>& feature_std() const { return m_feature_std; }
  const std::vector<double>& target_mean() const { return m_target_mean; }
  const std::vector<double>& target_std() const { return m_target_std; }

  /// One sample's rows: #N by F features, #N by T targets, #N by 3 points. A NaN or inf feature or
  /// target throws InputError naming the file, the sample (index and source) and the column.
  mesh::FeatureMatrix features(std::int64_t sample) const;
  mesh::FeatureMatrix targets(std::int64_t sample) const;
  mesh::Points points(std::int64_t sample) const;

 private:
  void check_sample(std::int64_t sample) const;
  void check_finite(std::int64_t sample, const mesh::FeatureMatrix& rows,
                    const std::vector<std::string>& columns, const char* kind) const;

  std::filesystem::path m_path;
  h5::Handle m_file;
  std::vector<std::int64_t> m_offsets;
  std::array<std::vector<std::int64_t>, 3> m_splits;
  mesh::FeatureRecipe m_recipe;
  std::vector<std::string> m_feature_names, m_target_names, m_target_arrays, m_sources, m_families;
  nlohmann::json m_training_domain;
  std::vector<int> m_target_components;
  std::vector<double> m_feature_mean, m_feature_std, m_target_mean, m_target_std;
};

}  // namespace flare::surrogate
