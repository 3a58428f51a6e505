// The training split where the step reads it: normalised features (in the model's activation type
// A) and targets (fp32), all samples in one array of the op table's memory when they fit, so a GPU
// step starts with no host conversion, upload or synchronisation (issue 17). A split too large for
// half the free device memory stays on the host and each sample is uploaded when it is used, as
// before. Either way a sample reaches the batch through the table's map_columns op, which applies
// the step's augmentation pose (a swap and sign flips of in-plane columns) while copying.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ops.h"
#include "mesh/features.h"
#include "surrogate/buffer.h"
#include "surrogate/ops_table.h"

namespace flare::surrogate {

template <typename A>
class TrainSamples {
 public:
  /// Takes the normalised samples xs [N_s, F] and ys [N_s, T] (equal counts, one F and T); when
  /// resident their host matrices are released as they are copied.
  TrainSamples(const OpTable<A, float>& ops, std::vector<mesh::FeatureMatrix>& xs,
               std::vector<mesh::FeatureMatrix>& ys);

  bool resident() const { return m_resident; }
  /// Bytes the samples take where they are kept.
  std::int64_t bytes() const { return m_rows_total * (m_F * std::int64_t(sizeof(A)) + m_T * 4); }
  std::int64_t count() const { return std::int64_t(m_offsets.size()) - 1; }
  std::int64_t rows(std::int64_t s) const { return m_offsets[s + 1] - m_offsets[s]; }
  int features() const { return m_F; }
  int targets() const { return m_T; }

  /// Rows [lo, hi) of sample s, columns mapped by fx and fy, into rows [at, at + hi − lo) of
  /// x [*, F] and y [*, T] (table memory). Queued on the table's stream; no host wait when
  /// resident.
  void place(std::int64_t s, std::int64_t lo, std::int64_t hi, const kernels::ColumnMap& fx,
             const kernels::ColumnMap& fy, A* x, float* y, std::int64_t at);

 private:
  OpTable<A, float> m_ops;
  int m_F = 0, m_T = 0;
  bool m_resident = false;
  std::vector<std::int64_t> m_offsets;  // [count + 1] rows
  std::int64_t m_rows_total = 0;
  Buffer<A> m_x;      // resident: [Σ rows, F]; streamed: one sample's rows
  Buffer<float> m_y;  // resident: [Σ rows, T]; streamed: one sample's rows
  std::vector<mesh::FeatureMatrix> m_host_x, m_host_y;  // streamed only
  std::vector<A> m_staging;  // host A copy of features before an upload
};

extern template class TrainSamples<float>;
extern template class TrainSamples<Bf16>;

}  // namespace flare::surrogate
