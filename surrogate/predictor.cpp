#include "surrogate/predictor.h"

#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "surrogate/evaluate.h"

namespace flare::surrogate {

namespace fs = std::filesystem;

Predictor::Predictor(const fs::path& checkpoint, const std::string& device,
                     const std::string& precision)
    : m_path(checkpoint.string()),
      m_backend(make_backend(device, precision)),
      m_ckpt(load_checkpoint(checkpoint)) {
  FLARE_INPUT_CHECK(!m_ckpt.normalizer.is_null() && !m_ckpt.feature_recipe.is_null(), m_path,
                    ": the checkpoint has no normalizer or feature recipe; use one written by "
                    "`flare-surrogate train`");
  m_norm = Normalizer::from_json(m_ckpt.normalizer, m_path);
  m_recipe = mesh::FeatureRecipe::from_json(m_ckpt.feature_recipe, m_path);
  FLARE_INPUT_CHECK(m_ckpt.config.in_dim == int(m_norm.feature_mean.size()) &&
                        m_ckpt.config.out_dim == int(m_norm.target_mean.size()),
                    m_path, ": the model's input/output sizes (", m_ckpt.config.in_dim, ", ",
                    m_ckpt.config.out_dim, ") disagree with its normalizer");
  if (!m_ckpt.training_domain.is_null())
    m_domain = TrainingDomain::from_json(m_ckpt.training_domain, m_path);
  m_layout = std::make_unique<ParamLayout>(m_ckpt.config);
  check_supported(m_backend, m_ckpt.config, m_path);
  if (m_backend.bf16())
    m_model_bf16 = std::make_unique<Model<Bf16, float>>(*m_layout, m_backend.ops_bf16);
  else
    m_model = std::make_unique<Model<float>>(*m_layout, m_backend.ops);
  m_params.ensure(m_backend.ops.mem, m_layout->size(), "model parameters");
  m_params.upload(m_ckpt.params.data(), m_layout->size());
}

mesh::FeatureMatrix Predictor::infer(const mesh::Mesh& mesh, const std::string& source) {
  if (m_domain) {
    MeshShape shape;
    shape.dim = mesh.dimension();
    const std::string why = m_domain->dimension_mismatch(shape);
    FLARE_INPUT_CHECK(why.empty(), source, ": ", why);
  }
  for (const auto& a : m_recipe.input_arrays())
    FLARE_INPUT_CHECK(mesh.point_data.has(a), source, ": the model ", m_path,
                      " needs the point array '", a,
                      "' (an input feature it was trained with) but the mesh does not have it");
  std::vector<std::string> columns;
  const mesh::FeatureMatrix x = mesh::compute_features(mesh, m_recipe, &columns, source);
  FLARE_INPUT_CHECK(columns == m_norm.feature_names, source, ": the mesh's feature columns differ "
                    "from the model's (an input array has another number of components?)");
  const mesh::NonFinite bad = mesh::find_non_finite(x);
  FLARE_INPUT_CHECK(bad.count == 0, source, ": non-finite feature ", bad.describe(columns),
                    " (coordinates beyond single precision?); fix the mesh");
  if (m_model_bf16) return predict_denormalized(*m_model_bf16, m_params.data(), m_norm, x);
  return predict_denormalized(*m_model, m_params.data(), m_norm, x);
}

void Predictor::predict(mesh::Mesh& mesh, const std::string& source) {
  const mesh::FeatureMatrix y = infer(mesh, source);

  const std::int64_t N = mesh.num_points();
  int col = 0;
  for (std::size_t t = 0; t < m_norm.target_arrays.size(); ++t) {
    const std::string& name = m_norm.target_arrays[t];
    const int k = m_norm.target_components[t];
    std::vector<double> pred(N * k), mag(N);
    for (std::int64_t i = 0; i < N; ++i) {
      double s = 0;
      for (int c = 0; c < k; ++c) {
        pred[i * k + c] = y(i, col + c);
        s += pred[i * k + c] * pred[i * k + c];
      }
      mag[i] = std::sqrt(s);
    }
    const mesh::DataArray* truth = mesh.point_data.find(name);
    if (truth && truth->components() == k) {
      std::vector<double> err(N * k);
      for (std::int64_t i = 0; i < N; ++i)
        for (int c = 0; c < k; ++c) err[i * k + c] = pred[i * k + c] - truth->get(i, c);
      mesh.point_data.put(mesh::DataArray::from_doubles(name + "_error", k, err));
    }
    mesh.point_data.put(mesh::DataArray::from_doubles(name + "_pred", k, pred));
    mesh.point_data.put(mesh::DataArray::from_doubles(name + "_pred_magnitude", 1, mag));
    col += k;
  }
}

std::string Predictor::outside_domain(const mesh::Mesh& mesh) const {
  return m_domain ? m_domain->outside_reasons(measure_shape(mesh)) : std::string();
}

std::vector<fs::path> default_model_candidates(const std::string& env_model, const fs::path& exe_dir,
                                               const fs::path& source_dir) {
  std::vector<fs::path> out;
  if (!env_model.empty()) out.emplace_back(env_model);
  if (!exe_dir.empty()) {
    out.push_back(exe_dir / ".." / "models" / kDefaultModelName);
    out.push_back(exe_dir / ".." / "share" / "flare-surrogate" / "models" / kDefaultModelName);
  }
  if (!source_dir.empty()) out.push_back(source_dir / "models" / kDefaultModelName);
  return out;
}

fs::path find_default_model() {
  const char* env = std::getenv("FLARE_MODEL");
  const std::string env_model = env ? env : "";
  if (!env_model.empty())
    FLARE_INPUT_CHECK(fs::is_regular_file(env_model), "FLARE_MODEL=", env_model,
                      ": no such model file; point FLARE_MODEL at a checkpoint or unset it");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
#ifdef FLARE_SOURCE_DIR
  const fs::path source_dir = FLARE_SOURCE_DIR;
#else
  const fs::path source_dir;
#endif
  for (const fs::path& c : default_model_candidates(env_model, ec ? fs::path() : exe.parent_path(), source_dir))
    if (fs::is_regular_file(c)) return fs::weakly_canonical(c);
  return {};
}

}  // namespace flare::surrogate
