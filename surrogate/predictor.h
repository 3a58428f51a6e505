// Inference on meshes with a trained checkpoint: the checkpoint's feature recipe, normalisation
// and model, and the predicted fields written back as point arrays next to every input array.
// An ensemble checkpoint (surrogate/ensemble.h) runs each member through the same model buffers,
// on the cpu or the GPU alike, and predicts their mean with a per-point uncertainty.
#pragma once

#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mesh/features.h"
#include "mesh/mesh.h"
#include "surrogate/checkpoint.h"
#include "surrogate/comm.h"
#include "surrogate/domain.h"
#include "surrogate/ensemble.h"
#include "surrogate/model.h"
#include "surrogate/normalizer.h"
#include "surrogate/ops_table.h"

namespace flare::surrogate {

/// Wall seconds of Predictor's stages, summed over its calls (`predict --timings`).
struct PredictTimings {
  double device_wait = 0;  ///< waiting for the GPU setup begun by the constructor (0 on the cpu)
  double features = 0;  ///< input checks, the recipe's features and their normalisation
  double upload = 0;    ///< features to the device (0 on the cpu)
  double model = 0;     ///< inference
  double download = 0;  ///< prediction back to the host, denormalised, into point arrays
};

/// Loads a checkpoint once and predicts any number of meshes with it: the backend (the CUDA
/// context), the uploaded parameters and the model's buffers are made once and reused, growing
/// to the largest mesh seen.
class Predictor {
 public:
  /// Loads and checks the checkpoint (recipe, normalizer, sizes); InputError naming the file.
  /// `device` is cpu or cuda, `precision` fp32 or bf16 (make_backend: bf16 needs cuda); the fp32
  /// parameters are uploaded once, whatever precision the checkpoint was trained in. On cuda the
  /// GPU is set up on a thread of its own while the caller goes on (reads a mesh, computes
  /// features); its errors (no GPU, out of memory) are thrown by the first prediction.
  explicit Predictor(const std::filesystem::path& checkpoint, const std::string& device = "cpu",
                     const std::string& precision = "fp32");
  /// The same from a checkpoint in memory (`model ensemble --calibrate` before it is written);
  /// `name` stands for the file in messages.
  Predictor(Checkpoint checkpoint, const std::string& name, const std::string& device,
            const std::string& precision);
  // Pinned in place: the setup thread writes into this object (and a GPU context is not a value).
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  /// Adds, for each target array <t> of the model: <t>_pred (same components as the training
  /// target, so a 3-vector works with ParaView's Warp By Vector), <t>_pred_magnitude, and, where
  /// the mesh has <t> with the same components, <t>_error = prediction − truth. An ensemble also
  /// adds <t>_uncertainty (σ per point, target units) and returns the part's score (the
  /// estimated relative error, surrogate/uncertainty.h); a single model returns nullopt.
  /// InputError naming `source` when the recipe cannot be computed on the mesh (a missing input
  /// array, no cells). `boundary`: mesh::recipe_boundary(mesh, recipe()) computed beforehand
  /// (e.g. beside the coarse solve), else computed here; the features are the same either way.
  std::optional<double> predict(mesh::Mesh& mesh, const std::string& source,
                                const mesh::BoundaryDistance* boundary = nullptr);

  /// The prediction alone, in target units: [N, T] in the model's target column order (the
  /// member mean for an ensemble). Same checks and InputErrors as predict().
  mesh::FeatureMatrix infer(const mesh::Mesh& mesh, const std::string& source,
                            const mesh::BoundaryDistance* boundary = nullptr);

  /// An ensemble's mean, σ and score on a mesh (same checks as infer()). Only for ensembles.
  EnsemblePrediction infer_ensemble(const mesh::Mesh& mesh, const std::string& source,
                                    const mesh::BoundaryDistance* boundary = nullptr);
  /// The same from raw (not normalised) features [N, F] in the recipe's columns, e.g. a dataset
  /// sample's.
  EnsemblePrediction infer_ensemble(mesh::FeatureMatrix features);

  /// Point-sharded prediction over the ranks of `comm` (null = off; docs/distributed.md): every
  /// later call is collective, made by all ranks with the same mesh. Each rank computes the
  /// features of the whole mesh (some depend on all of it, e.g. the part's frame), the ranks agree
  /// on any failure there (surrogate/comm.h, agree), each rank runs every member on its slice of
  /// the points (Model::set_point_shards), and the slices are gathered so that every rank returns
  /// the whole prediction. CPU, fp32 only: InputError otherwise.
  void set_point_shards(Comm* comm);

  /// The ensemble record (members, calibration) of an ensemble checkpoint; nullopt for one model.
  const std::optional<EnsembleInfo>& ensemble() const { return m_ensemble; }

  /// Empty when `mesh` lies inside the training domain stored in the checkpoint (or the checkpoint
  /// predates it); otherwise the reasons with their numbers, for a one-line warning. Its time
  /// counts as features.
  std::string outside_domain(const mesh::Mesh& mesh) const;

  /// The training domain stored in the checkpoint (none for checkpoints that predate it).
  const std::optional<TrainingDomain>& training_domain() const { return m_domain; }
  /// Stage times of every infer()/predict() so far.
  const PredictTimings& timings() const { return m_timings; }

  const Normalizer& normalizer() const { return m_norm; }
  const mesh::FeatureRecipe& recipe() const { return m_recipe; }

 private:
  // Checks, computes and normalises the recipe's features of `mesh` (timed as features); agreed
  // on by the ranks when sharded.
  mesh::FeatureMatrix normalized_features(const mesh::Mesh& mesh, const std::string& source,
                                          const mesh::BoundaryDistance* boundary);
  mesh::FeatureMatrix features_of(const mesh::Mesh& mesh, const std::string& source,
                                  const mesh::BoundaryDistance* boundary);
  // The device setup (backend, model, parameters): inline on the cpu, on a thread for cuda.
  void set_up_device(const std::string& device, const std::string& precision);
  // Blocks until the setup has finished (timed as device_wait); rethrows its error.
  void wait_for_device();
  // Member k on normalised features, denormalised (timed as upload/model/download).
  mesh::FeatureMatrix run_member(int k, const mesh::FeatureMatrix& x);
  EnsemblePrediction run_ensemble(const mesh::FeatureMatrix& x);

  std::string m_path;
  Backend m_backend;  // declared first: outlives the buffers and the model that use its context
  Checkpoint m_ckpt;
  std::vector<Buffer<float>> m_params;  // one per ensemble member, uploaded once
  std::unique_ptr<ParamLayout> m_layout;
  std::unique_ptr<Model<float>> m_model;             // fp32 (set unless bf16)
  std::unique_ptr<Model<Bf16, float>> m_model_bf16;  // --precision bf16
  Normalizer m_norm;
  mesh::FeatureRecipe m_recipe;
  std::optional<TrainingDomain> m_domain;
  std::optional<EnsembleInfo> m_ensemble;
  mutable PredictTimings m_timings;  // outside_domain() (const) adds its measuring to features
  Comm* m_shards = nullptr;          // set_point_shards()
  // Declared last, so destroyed first: a Predictor dropped before its first prediction waits for
  // the setup thread before the members it writes go away.
  std::future<void> m_device_ready;
};

inline constexpr const char* kDefaultModelName = "lpbf-default.h5";

/// Where `predict` looks for the bundled model `name`, in order: $FLARE_MODEL (a file; `env_model`,
/// empty when unset), <exe_dir>/../models/, <exe_dir>/../share/flare-surrogate/models/
/// (installed), <source_dir>/models/ (the source tree this binary was built from).
std::vector<std::filesystem::path> default_model_candidates(const std::string& env_model,
                                                            const std::filesystem::path& exe_dir,
                                                            const std::filesystem::path& source_dir,
                                                            const std::string& name = kDefaultModelName);

/// The first existing file of default_model_candidates() for this process; empty when none.
/// Throws InputError when $FLARE_MODEL is set but names no file (a typo must not silently fall
/// back to another model).
std::filesystem::path find_default_model();

/// `-m ARG`: ARG itself when it exists or names a folder; a bare file name that is no file here is
/// looked for among the bundled models (the folders above, without $FLARE_MODEL), so that
/// `-m lpbf-v2-geometry.h5` works wherever the tool is installed. Unresolved: ARG as given (the
/// loader then names it in its error).
std::filesystem::path resolve_model_argument(const std::string& arg);

}  // namespace flare::surrogate
