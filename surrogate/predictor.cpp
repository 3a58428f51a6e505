#include "surrogate/predictor.h"

#include <cmath>

#include "common/error.h"
#include "surrogate/evaluate.h"

namespace flare::surrogate {

namespace fs = std::filesystem;

Predictor::Predictor(const fs::path& checkpoint, const std::string& device)
    : m_path(checkpoint.string()), m_backend(make_backend(device)), m_ckpt(load_checkpoint(checkpoint)) {
  FLARE_INPUT_CHECK(!m_ckpt.normalizer.is_null() && !m_ckpt.feature_recipe.is_null(), m_path,
                    ": the checkpoint has no normalizer or feature recipe; use one written by "
                    "`flare-surrogate train`");
  m_norm = Normalizer::from_json(m_ckpt.normalizer, m_path);
  m_recipe = mesh::FeatureRecipe::from_json(m_ckpt.feature_recipe, m_path);
  FLARE_INPUT_CHECK(m_ckpt.config.in_dim == int(m_norm.feature_mean.size()) &&
                        m_ckpt.config.out_dim == int(m_norm.target_mean.size()),
                    m_path, ": the model's input/output sizes (", m_ckpt.config.in_dim, ", ",
                    m_ckpt.config.out_dim, ") disagree with its normalizer");
  m_layout = std::make_unique<ParamLayout>(m_ckpt.config);
  check_supported(m_backend, m_ckpt.config, m_path);
  m_model = std::make_unique<Model<float>>(*m_layout, m_backend.ops);
  m_params.ensure(m_backend.ops.mem, m_layout->size(), "model parameters");
  m_params.upload(m_ckpt.params.data(), m_layout->size());
}

void Predictor::predict(mesh::Mesh& mesh, const std::string& source) {
  for (const auto& a : m_recipe.input_arrays())
    FLARE_INPUT_CHECK(mesh.point_data.has(a), source, ": the model ", m_path,
                      " needs the point array '", a,
                      "' (an input feature it was trained with) but the mesh does not have it");
  std::vector<std::string> columns;
  const mesh::FeatureMatrix x = mesh::compute_features(mesh, m_recipe, &columns, source);
  FLARE_INPUT_CHECK(columns == m_norm.feature_names, source, ": the mesh's feature columns differ "
                    "from the model's (an input array has another number of components?)");
  const mesh::FeatureMatrix y = predict_denormalized(*m_model, m_params.data(), m_norm, x);

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

fs::path find_default_model() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const fs::path dir = exe.parent_path();
  // Installed (<prefix>/bin next to <prefix>/share), then build trees inside the source tree.
  for (const fs::path& c : {dir / "../share/flare-surrogate/models/lpbf-default.h5",
                            dir / "../models/lpbf-default.h5", dir / "../../models/lpbf-default.h5"})
    if (fs::exists(c)) return fs::weakly_canonical(c);
  return {};
}

}  // namespace flare::surrogate
