// Device-side random fills for benchmarks and large tests: generating gigabytes on the host and
// uploading them would dominate a benchmark's wall time.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace flare::cuda {

/// x[i] = stddev · u_i·√3 with u_i uniform in [-1, 1) from a counter hash of (seed, i): zero mean,
/// the given standard deviation, reproducible, never all zeros.
template <typename T>
void fill_random(CudaContext& ctx, T* x, std::int64_t n, std::uint64_t seed, float stddev);

}  // namespace flare::cuda
