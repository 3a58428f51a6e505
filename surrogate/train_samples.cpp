#include "surrogate/train_samples.h"

#include <limits>
#include <type_traits>

#include "common/error.h"

namespace flare::surrogate {

namespace {

// host floats [n] to dst (A, table memory), converted on the host where A is narrower (round to
// nearest even, as the device casts).
template <typename A>
void upload_as(A* dst, const Memory& mem, const float* host, std::int64_t n,
               std::vector<A>& staging) {
  if (n <= 0) return;
  if constexpr (std::is_same_v<A, float>) {
    mem.upload(mem.ctx, dst, host, std::size_t(n) * sizeof(float));
  } else {
    staging.resize(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i) staging[std::size_t(i)] = to_bf16(host[i]);
    mem.upload(mem.ctx, dst, staging.data(), std::size_t(n) * sizeof(A));
  }
}

}  // namespace

template <typename A>
TrainSamples<A>::TrainSamples(const OpTable<A, float>& ops, std::vector<mesh::FeatureMatrix>& xs,
                              std::vector<mesh::FeatureMatrix>& ys)
    : m_ops(ops) {
  FLARE_CHECK(!xs.empty() && xs.size() == ys.size(), "TrainSamples: ", xs.size(),
              " feature and ", ys.size(), " target samples");
  m_F = int(xs[0].cols());
  m_T = int(ys[0].cols());
  FLARE_CHECK(m_F <= kernels::ColumnMap::kMax && m_T <= kernels::ColumnMap::kMax,
              "TrainSamples: ", m_F, " features and ", m_T, " targets (at most ",
              kernels::ColumnMap::kMax, " each)");
  m_offsets = {0};
  for (std::size_t s = 0; s < xs.size(); ++s) {
    FLARE_CHECK(xs[s].cols() == m_F && ys[s].cols() == m_T && xs[s].rows() == ys[s].rows(),
                "TrainSamples: sample ", s, " has another shape");
    m_offsets.push_back(m_offsets.back() + xs[s].rows());
  }
  m_rows_total = m_offsets.back();
  // Half the free memory at most: activations, the optimizer and validation need the rest.
  const std::size_t free_b = ops.mem.free_bytes ? ops.mem.free_bytes(ops.mem.ctx)
                                                : std::numeric_limits<std::size_t>::max();
  m_resident = std::size_t(bytes()) <= free_b / 2;
  if (!m_resident) {
    m_host_x = std::move(xs);
    m_host_y = std::move(ys);
    return;
  }
  m_x.ensure(ops.mem, m_rows_total * m_F, "training samples (features)");
  m_y.ensure(ops.mem, m_rows_total * m_T, "training samples (targets)");
  for (std::size_t s = 0; s < xs.size(); ++s) {
    upload_as(m_x.data() + m_offsets[s] * m_F, ops.mem, xs[s].data(), xs[s].size(), m_staging);
    ops.mem.upload(ops.mem.ctx, m_y.data() + m_offsets[s] * m_T, ys[s].data(),
                   std::size_t(ys[s].size()) * sizeof(float));
    xs[s] = mesh::FeatureMatrix();
    ys[s] = mesh::FeatureMatrix();
  }
  ops.mem.synchronize(ops.mem.ctx);
  m_staging = {};
}

template <typename A>
void TrainSamples<A>::place(std::int64_t s, std::int64_t lo, std::int64_t hi,
                            const kernels::ColumnMap& fx, const kernels::ColumnMap& fy, A* x,
                            float* y, std::int64_t at) {
  FLARE_CHECK(s >= 0 && s < count() && lo >= 0 && lo <= hi && hi <= rows(s),
              "TrainSamples::place: rows [", lo, ", ", hi, ") of sample ", s);
  FLARE_CHECK(fx.cols == m_F && fy.cols == m_T, "TrainSamples::place: column maps of ", fx.cols,
              " and ", fy.cols, " columns for ", m_F, " features and ", m_T, " targets");
  const std::int64_t n = hi - lo;
  if (n == 0) return;
  const A* sx;
  const float* sy;
  if (m_resident) {
    sx = m_x.data() + (m_offsets[s] + lo) * m_F;
    sy = m_y.data() + (m_offsets[s] + lo) * m_T;
  } else {
    m_x.ensure(m_ops.mem, n * m_F, "training sample (features)");
    m_y.ensure(m_ops.mem, n * m_T, "training sample (targets)");
    upload_as(m_x.data(), m_ops.mem, m_host_x[s].data() + lo * m_F, n * m_F, m_staging);
    m_y.upload(m_host_y[s].data() + lo * m_T, n * m_T);
    sx = m_x.data();
    sy = m_y.data();
  }
  m_ops.map_columns(m_ops.ctx, sx, x + at * m_F, n, fx);
  m_ops.map_columns_p(m_ops.ctx, sy, y + at * m_T, n, fy);
}

template class TrainSamples<float>;
template class TrainSamples<Bf16>;

}  // namespace flare::surrogate
