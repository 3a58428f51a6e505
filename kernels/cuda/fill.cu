// Counter-based random fill (splitmix64 of seed ^ index): one thread per element, no state.
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/fill.cuh"

#include <algorithm>

namespace flare::cuda {
namespace {

template <typename T>
__global__ void fill_random_kernel(T* __restrict__ x, std::int64_t n, std::uint64_t seed, float a) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * std::uint64_t(i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float u = float(z >> 40) * (2.0f / 16777216.0f) - 1.0f;  // [-1, 1)
    x[i] = from_float<T>(a * u);
  }
}

}  // namespace

template <typename T>
void fill_random(CudaContext& ctx, T* x, std::int64_t n, std::uint64_t seed, float stddev) {
  if (n <= 0) return;
  const std::int64_t blocks = std::min<std::int64_t>((n + 255) / 256, 65536);
  fill_random_kernel<T><<<unsigned(blocks), 256, 0, ctx.stream()>>>(x, n, seed,
                                                                    stddev * 1.7320508f);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template void fill_random<float>(CudaContext&, float*, std::int64_t, std::uint64_t, float);
template void fill_random<bf16>(CudaContext&, bf16*, std::int64_t, std::uint64_t, float);

}  // namespace flare::cuda
