#include "surrogate/predictor.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <future>

#include "common/error.h"

namespace flare::surrogate {

namespace fs = std::filesystem;

Predictor::Predictor(const fs::path& checkpoint, const std::string& device,
                     const std::string& precision)
    : Predictor(load_checkpoint(checkpoint), checkpoint.string(), device, precision) {}

Predictor::Predictor(Checkpoint checkpoint, const std::string& name, const std::string& device,
                     const std::string& precision)
    : m_path(name), m_ckpt(std::move(checkpoint)) {
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
  if (m_ckpt.num_members() > 1) {
    m_ensemble = EnsembleInfo::from_json(m_ckpt.ensemble, m_path);
    FLARE_INPUT_CHECK(m_ensemble->members == m_ckpt.num_members(), m_path, ": the ensemble record "
                      "says ", m_ensemble->members, " members, the file holds ", m_ckpt.num_members());
  }
  m_layout = std::make_unique<ParamLayout>(m_ckpt.config);
  Backend probe;  // what the device can run is known before the device is set up
  probe.device = device;
  check_supported(probe, m_ckpt.config, m_path);
  // A CUDA context, cuBLAS and the upload take about a quarter of a second: they run beside the
  // caller's reading and featurising of its first mesh, and the first use of the model waits.
  // The context belongs to the process, so the thread that made it may end. (GPU slot 0: the
  // device is the runtime's default on every thread.)
  if (device == "cuda" && cuda_built()) {
    m_device_ready = std::async(std::launch::async, [this, device, precision] { set_up_device(device, precision); });
  } else {
    set_up_device(device, precision);
  }
}

void Predictor::set_up_device(const std::string& device, const std::string& precision) {
  m_backend = make_backend(device, precision);
  if (m_backend.bf16())
    m_model_bf16 = std::make_unique<Model<Bf16, float>>(*m_layout, m_backend.ops_bf16);
  else
    m_model = std::make_unique<Model<float>>(*m_layout, m_backend.ops);
  m_params.resize(std::size_t(m_ckpt.num_members()));
  for (int k = 0; k < m_ckpt.num_members(); ++k) {
    m_params[k].ensure(m_backend.ops.mem, m_layout->size(), "model parameters");
    m_params[k].upload(m_ckpt.member(k).data(), m_layout->size());
  }
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

void Predictor::wait_for_device() {
  if (!m_device_ready.valid()) return;
  const auto t0 = Clock::now();
  std::future<void> ready = std::move(m_device_ready);
  ready.get();  // rethrows what the setup threw (no GPU, out of memory), once
  m_timings.device_wait += seconds_since(t0);
}

void Predictor::set_point_shards(Comm* comm) {
  wait_for_device();
  FLARE_INPUT_CHECK(!comm || (m_model && m_backend.ops.mem.host), m_path,
                    ": point-sharded prediction over MPI ranks runs on the cpu in fp32 "
                    "(--device cpu); predict on a GPU as one process");
  m_shards = comm;
  m_model->set_point_shards(comm);
}

mesh::FeatureMatrix Predictor::normalized_features(const mesh::Mesh& mesh,
                                                   const std::string& source,
                                                   const mesh::BoundaryDistance* boundary) {
  if (!m_shards) return features_of(mesh, source, boundary);
  // The model's collectives follow: a bad mesh must stop every rank here, reported once.
  mesh::FeatureMatrix x;
  agree_on(*m_shards, [&] { x = features_of(mesh, source, boundary); });
  return x;
}

mesh::FeatureMatrix Predictor::features_of(const mesh::Mesh& mesh, const std::string& source,
                                           const mesh::BoundaryDistance* boundary) {
  const auto t0 = Clock::now();
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
  mesh::FeatureMatrix x = mesh::compute_features(mesh, m_recipe, &columns, source, boundary);
  FLARE_INPUT_CHECK(columns == m_norm.feature_names, source, ": the mesh's feature columns differ "
                    "from the model's (an input array has another number of components?)");
  const mesh::NonFinite bad = mesh::find_non_finite(x);
  FLARE_INPUT_CHECK(bad.count == 0, source, ": non-finite feature ", bad.describe(columns),
                    " (coordinates beyond single precision?); fix the mesh");
  m_norm.normalize_features(x);
  m_timings.features += seconds_since(t0);
  return x;
}

mesh::FeatureMatrix Predictor::run_member(int k, const mesh::FeatureMatrix& x) {
  const std::int64_t N = x.rows(), F = x.cols();
  const Eigen::Index T = Eigen::Index(m_norm.target_names.size());
  mesh::FeatureMatrix y(N, T);
  wait_for_device();
  InferStages st;
  const float* params = m_params[std::size_t(k)].data();
  if (m_model_bf16) {
    const std::int64_t offsets[2] = {0, N};
    m_model_bf16->infer_host(params, x.data(), offsets, 1, y.data(), &st);
  } else if (!m_shards) {
    const std::int64_t offsets[2] = {0, N};
    m_model->infer_host(params, x.data(), offsets, 1, y.data(), &st);
  } else {
    // This rank's rows in, its rows of y out, then every rank's rows to every rank. The ranks
    // agreed on the input, so a failure here is this rank's alone while its peers wait in a
    // collective: RankFailure, whose catcher ends the job.
    try {
      const PointSlice s = point_slice(N, m_shards->rank(), m_shards->size());
      const std::int64_t offsets[2] = {0, s.size()};
      m_model->infer_host(params, x.data() + s.lo * F, offsets, 1, y.data() + s.lo * T, &st);
      const auto tg = Clock::now();
      allgather_rows(*m_shards, y.data(), N, T);
      st.download += seconds_since(tg);
    } catch (...) {
      const auto e = std::current_exception();
      throw RankFailure(message_of(e), exit_code_of(e));
    }
  }
  const auto t1 = Clock::now();
  m_norm.denormalize_targets(y);
  m_timings.upload += st.upload;
  m_timings.model += st.model;
  m_timings.download += st.download + seconds_since(t1);
  return y;
}

EnsemblePrediction Predictor::run_ensemble(const mesh::FeatureMatrix& x) {
  FLARE_CHECK(m_ensemble, m_path, ": an ensemble prediction from a single-model checkpoint");
  std::vector<mesh::FeatureMatrix> members;
  for (int k = 0; k < m_ckpt.num_members(); ++k) members.push_back(run_member(k, x));
  const auto t0 = Clock::now();
  EnsemblePrediction p =
      combine_predictions(members, m_norm.target_components, m_ensemble->sigma_scale);
  p.score *= m_ensemble->score_scale;
  m_timings.download += seconds_since(t0);
  return p;
}

mesh::FeatureMatrix Predictor::infer(const mesh::Mesh& mesh, const std::string& source,
                                     const mesh::BoundaryDistance* boundary) {
  const mesh::FeatureMatrix x = normalized_features(mesh, source, boundary);
  if (!m_ensemble) return run_member(0, x);
  return run_ensemble(x).mean;
}

EnsemblePrediction Predictor::infer_ensemble(const mesh::Mesh& mesh, const std::string& source,
                                             const mesh::BoundaryDistance* boundary) {
  return run_ensemble(normalized_features(mesh, source, boundary));
}

EnsemblePrediction Predictor::infer_ensemble(mesh::FeatureMatrix features) {
  FLARE_CHECK(features.cols() == Eigen::Index(m_norm.feature_names.size()), m_path, ": ",
              features.cols(), " feature columns, the model takes ", m_norm.feature_names.size());
  const auto t0 = Clock::now();
  m_norm.normalize_features(features);
  m_timings.features += seconds_since(t0);
  return run_ensemble(features);
}

std::optional<double> Predictor::predict(mesh::Mesh& mesh, const std::string& source,
                                         const mesh::BoundaryDistance* boundary) {
  std::optional<EnsemblePrediction> ens;
  mesh::FeatureMatrix y;
  if (m_ensemble) {
    ens = infer_ensemble(mesh, source, boundary);
    y = std::move(ens->mean);
  } else {
    y = infer(mesh, source, boundary);
  }
  const auto t0 = Clock::now();

  // Filled in place, in parallel: at a million points these arrays are tens of MB.
  const std::int64_t N = mesh.num_points();
  int col = 0;
  for (std::size_t t = 0; t < m_norm.target_arrays.size(); ++t) {
    const std::string& name = m_norm.target_arrays[t];
    const int k = m_norm.target_components[t];
    mesh::DataArray pred(name + "_pred", mesh::DType::Float64, k, N);
    mesh::DataArray mag(name + "_pred_magnitude", mesh::DType::Float64, 1, N);
    double* pv = pred.data<double>();
    double* mv = mag.data<double>();
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < N; ++i) {
      double s = 0;
      for (int c = 0; c < k; ++c) {
        pv[i * k + c] = y(i, col + c);
        s += pv[i * k + c] * pv[i * k + c];
      }
      mv[i] = std::sqrt(s);
    }
    const mesh::DataArray* truth = mesh.point_data.find(name);
    if (truth && truth->components() == k) {
      mesh::DataArray err(name + "_error", mesh::DType::Float64, k, N);
      double* ev = err.data<double>();
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < N; ++i)
        for (int c = 0; c < k; ++c) ev[i * k + c] = pv[i * k + c] - truth->get(i, c);
      mesh.point_data.put(std::move(err));
    }
    if (ens) {
      mesh::DataArray sigma(name + "_uncertainty", mesh::DType::Float64, 1, N);
      double* sv = sigma.data<double>();
      for (std::int64_t i = 0; i < N; ++i) sv[i] = ens->sigma(i, Eigen::Index(t));
      mesh.point_data.put(std::move(sigma));
    }
    mesh.point_data.put(std::move(pred));
    mesh.point_data.put(std::move(mag));
    col += k;
  }
  m_timings.download += seconds_since(t0);
  return ens ? std::optional<double>(ens->score) : std::nullopt;
}

std::string Predictor::outside_domain(const mesh::Mesh& mesh) const {
  const auto t0 = Clock::now();
  std::string why = m_domain ? m_domain->outside_reasons(measure_shape(mesh)) : std::string();
  m_timings.features += seconds_since(t0);
  return why;
}

std::vector<fs::path> default_model_candidates(const std::string& env_model, const fs::path& exe_dir,
                                               const fs::path& source_dir, const std::string& name) {
  std::vector<fs::path> out;
  if (!env_model.empty()) out.emplace_back(env_model);
  if (!exe_dir.empty()) {
    out.push_back(exe_dir / ".." / "models" / name);
    out.push_back(exe_dir / ".." / "share" / "flare-surrogate" / "models" / name);
  }
  if (!source_dir.empty()) out.push_back(source_dir / "models" / name);
  return out;
}

namespace {

// The first existing bundled model called `name` ($FLARE_MODEL first when given).
fs::path find_bundled(const std::string& env_model, const std::string& name) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
#ifdef FLARE_SOURCE_DIR
  const fs::path source_dir = FLARE_SOURCE_DIR;
#else
  const fs::path source_dir;
#endif
  for (const fs::path& c : default_model_candidates(env_model, ec ? fs::path() : exe.parent_path(), source_dir, name))
    if (fs::is_regular_file(c)) return fs::weakly_canonical(c);
  return {};
}

}  // namespace

fs::path find_default_model() {
  const char* env = std::getenv("FLARE_MODEL");
  const std::string env_model = env ? env : "";
  if (!env_model.empty())
    FLARE_INPUT_CHECK(fs::is_regular_file(env_model), "FLARE_MODEL=", env_model,
                      ": no such model file; point FLARE_MODEL at a checkpoint or unset it");
  return find_bundled(env_model, kDefaultModelName);
}

fs::path resolve_model_argument(const std::string& arg) {
  const fs::path p(arg);
  if (arg.empty() || fs::exists(p) || p.has_parent_path()) return p;
  const fs::path bundled = find_bundled("", arg);
  return bundled.empty() ? p : bundled;
}

}  // namespace flare::surrogate
