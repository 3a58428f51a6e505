// Shared by the cpu tier (internal, not part of the ops.h contract): row-major Eigen views of the
// raw tensors and the chunked OpenMP loops every op uses.
//
// Reductions over N (dW, dgamma, the mixer's dQ/dZ) give every thread its own partial and sum the
// partials in thread order after the parallel loop: no atomics, and with a fixed thread count the
// result is bitwise reproducible (a `critical` section would add in arrival order).
#pragma once

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

namespace flare::kernels::cpu {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<RowMat>;
using ConstMatMap = Eigen::Map<const RowMat>;
// A head's slice of a packed [N, C] tensor: `rows` rows of D values, C apart.
using StridedMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
using ConstStridedMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;
using ConstRowVecMap = Eigen::Map<const Eigen::RowVectorXf>;

/// Number of chunks of `chunk` rows covering N rows.
inline std::int64_t num_chunks(std::int64_t N, std::int64_t chunk) { return (N + chunk - 1) / chunk; }

/// Calls f(n0, n1) for consecutive row ranges of at most `chunk` rows, in parallel when there is
/// more than one chunk (a parallel region costs microseconds: not worth it for tiny tensors).
template <class F>
void for_each_chunk(std::int64_t N, std::int64_t chunk, F&& f) {
  const std::int64_t nc = num_chunks(N, chunk);
#pragma omp parallel for schedule(static) if (nc > 1)
  for (std::int64_t c = 0; c < nc; ++c) f(c * chunk, std::min(N, (c + 1) * chunk));
}

/// Threads that a parallel region started now would get.
inline int max_threads() { return omp_get_max_threads(); }

}  // namespace flare::kernels::cpu
