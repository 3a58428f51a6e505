// CudaExec: the lattice solver's loops as kernels on one non-blocking stream (exec.h describes the
// interface). forall and forall_list are one thread per index; part_sum reduces a 128-node chunk per block and
// then each part's chunks in one block, both in a fixed order, so sums are run-to-run identical.
#pragma once

#include <cuda_runtime.h>

#include "am/lattice/exec.h"
#include "common/error.h"
#include "kernels/cuda/common.cuh"

namespace flare::am::lattice {

namespace detail {

inline constexpr int kMaxInvert = 256;  // largest matrix invert_spd_kernel takes (shared memory)

// The stream of the CudaExec that the calling thread made last. Arrays copy and clear on it, so
// that solvers on several threads (am dataset's concurrent batches) never wait for each other: a
// device-wide synchronisation per CG iteration would serialise them. One solve, one thread.
inline thread_local cudaStream_t t_stream = nullptr;

template <typename F>
__global__ void forall_kernel(std::int64_t n, F f) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) f(i);
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024), in a fixed order.
__device__ inline double block_sum(double v) {
  __shared__ double warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  double s = 0;
  if (warp == 0) {
    s = lane < int(blockDim.x >> 5) ? warp_sums[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  }
  return s;  // valid in thread 0
}

template <typename F>
__global__ void forall_list_kernel(const std::int64_t* __restrict__ list, std::int64_t n, F f) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const std::int64_t node = list[i];
    if (node >= 0) f(node);
  }
}

// Eight lanes per node, one per cell, summed by butterfly (sum_cells' order); every lane of a warp
// takes part in the shuffles, so none returns early.
template <typename T, typename C, typename F>
__global__ void node_cells_kernel(const std::int64_t* __restrict__ list, std::int64_t n, C cell, F finish) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t k = i >> 3;
  const int d = int(i & 7);
  const std::int64_t node = k < n ? list[k] : -1;
  Vec3<T> a{{T(0), T(0), T(0)}};
  if (node >= 0) a = cell(node, d);
  for (int o = 4; o > 0; o >>= 1)
    for (int c = 0; c < 3; ++c) a.v[c] += __shfl_xor_sync(0xffffffffu, a.v[c], o);
  if (d == 0 && node >= 0) finish(node, a);
}

template <typename F>
__global__ void chunk_sum_kernel(F f, const std::int64_t* __restrict__ list, double* __restrict__ partial) {
  const std::int64_t n = list[std::int64_t(blockIdx.x) * kChunk + threadIdx.x];
  const double s = block_sum(n >= 0 ? f(n) : 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void part_sum_kernel(const std::int64_t* __restrict__ chunk_begin,
                                const double* __restrict__ partial, double* __restrict__ out) {
  const int p = blockIdx.x;
  double s = 0;
  for (std::int64_t c = chunk_begin[p] + threadIdx.x; c < chunk_begin[p + 1]; c += blockDim.x) s += partial[c];
  s = block_sum(s);
  if (threadIdx.x == 0) out[p] = s;
}

// One block per matrix, held in shared memory (fp32: 147 KB at n = 192): Gauss-Jordan in place,
// the same operations as HostExec::invert_spd. The pivot column is copied out first, so each
// pivot costs three barriers and one pass over the matrix; the matrix in global memory took
// 7 ms per 192 x 192 inverse (0.8 of 2.5 s on a 91k-node part in 111 groups, session 8).
__global__ void invert_spd_kernel(float* __restrict__ all, int n) {
  extern __shared__ float x[];
  __shared__ float col[kMaxInvert];
  float* g = all + std::int64_t(blockIdx.x) * n * n;
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) x[e] = g[e];
  __syncthreads();
  for (int k = 0; k < n; ++k) {
    const float piv = x[k * n + k];
    for (int i = threadIdx.x; i < n; i += blockDim.x) col[i] = x[i * n + k];
    __syncthreads();
    for (int j = threadIdx.x; j < n; j += blockDim.x)
      if (j != k) x[k * n + j] /= piv;
    __syncthreads();
    for (int e = threadIdx.x; e < n * n; e += blockDim.x) {
      const int i = e / n, j = e % n;
      if (i != k && j != k) x[e] -= col[i] * x[k * n + j];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      if (i != k) x[i * n + k] = -col[i] / piv;
    if (threadIdx.x == 0) x[k * n + k] = 1 / piv;
    __syncthreads();
  }
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) g[e] = x[e];
}

}  // namespace detail

class CudaExec {
 public:
  CudaExec() {
    FLARE_CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
    detail::t_stream = m_stream;
    int device = 0;
    FLARE_CUDA_CHECK(cudaGetDevice(&device));
    FLARE_CUDA_CHECK(cudaDeviceGetAttribute(&m_max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    m_max_shared -= int(detail::kMaxInvert * sizeof(float));  // the kernel's static pivot column
    FLARE_CUDA_CHECK(cudaFuncSetAttribute(detail::invert_spd_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          m_max_shared));
  }
  ~CudaExec() {
    if (detail::t_stream == m_stream) detail::t_stream = nullptr;
    if (m_stream) FLARE_CUDA_CHECK_PRINT(cudaStreamDestroy(m_stream));
  }
  CudaExec(const CudaExec&) = delete;
  CudaExec& operator=(const CudaExec&) = delete;

  cudaStream_t stream() const { return m_stream; }

  template <typename T>
  class Array {
   public:
    void resize(std::size_t n, const char* what = "lattice solver buffer") {
      m_buf.resize(n, what);
      if (n) FLARE_CUDA_CHECK(cudaMemsetAsync(m_buf.data(), 0, n * sizeof(T), detail::t_stream));
    }
    void upload(const std::vector<T>& host) {
      resize(host.size());
      upload_part(host.data(), 0, host.size());
    }
    // Synchronous (the host buffer may be reused at once), ordered after the work queued on the
    // thread's stream.
    void upload_part(const T* host, std::size_t offset, std::size_t n) {
      if (n)
        FLARE_CUDA_CHECK(cudaMemcpyAsync(m_buf.data() + offset, host, n * sizeof(T), cudaMemcpyHostToDevice,
                                         detail::t_stream));
      FLARE_CUDA_CHECK(cudaStreamSynchronize(detail::t_stream));
    }
    std::vector<T> download() const {
      std::vector<T> host(m_buf.size());
      download_part(host.data(), 0, host.size());
      return host;
    }
    void download_part(T* host, std::size_t offset, std::size_t n) const {
      if (n)
        FLARE_CUDA_CHECK(cudaMemcpyAsync(host, m_buf.data() + offset, n * sizeof(T), cudaMemcpyDeviceToHost,
                                         detail::t_stream));
      FLARE_CUDA_CHECK(cudaStreamSynchronize(detail::t_stream));
    }
    void zero() {
      if (m_buf.size()) FLARE_CUDA_CHECK(cudaMemsetAsync(m_buf.data(), 0, m_buf.bytes(), detail::t_stream));
    }
    T* data() { return m_buf.data(); }
    const T* data() const { return m_buf.data(); }
    std::size_t size() const { return m_buf.size(); }

   private:
    cuda::DeviceBuffer<T> m_buf;
  };

  template <typename F>
  void forall(std::int64_t n, const F& f) const {
    if (n <= 0) return;
    constexpr int kBlock = 128;
    detail::forall_kernel<<<unsigned((n + kBlock - 1) / kBlock), kBlock, 0, m_stream>>>(n, f);
    FLARE_CUDA_LAUNCH_CHECK(m_stream);
  }

  template <typename F>
  void forall_list(const std::int64_t* list, std::int64_t n, const F& f) const {
    if (n <= 0) return;
    constexpr int kBlock = 128;
    detail::forall_list_kernel<<<unsigned((n + kBlock - 1) / kBlock), kBlock, 0, m_stream>>>(list, n, f);
    FLARE_CUDA_LAUNCH_CHECK(m_stream);
  }

  template <typename T, typename C, typename F>
  void forall_node_cells(const std::int64_t* list, std::int64_t n, const C& cell, const F& finish) const {
    if (n <= 0) return;
    constexpr int kBlock = 128;
    detail::node_cells_kernel<T><<<unsigned((8 * n + kBlock - 1) / kBlock), kBlock, 0, m_stream>>>(list, n, cell, finish);
    FLARE_CUDA_LAUNCH_CHECK(m_stream);
  }

  template <typename F>
  void part_sum(int parts, const std::int64_t* chunk_begin, std::int64_t chunks, const std::int64_t* list,
                double* partial, double* out, const F& f) const {
    if (chunks > 0) {
      detail::chunk_sum_kernel<<<unsigned(chunks), kChunk, 0, m_stream>>>(f, list, partial);
      FLARE_CUDA_LAUNCH_CHECK(m_stream);
    }
    detail::part_sum_kernel<<<unsigned(parts), 256, 0, m_stream>>>(chunk_begin, partial, out);
    FLARE_CUDA_LAUNCH_CHECK(m_stream);
  }

  void invert_spd(float* a, int n, int count) const {
    if (count <= 0) return;
    const int bytes = n * n * int(sizeof(float));
    FLARE_CHECK(n <= detail::kMaxInvert && bytes <= m_max_shared, "lattice solver: a ", n, "x", n,
                " coarsest matrix does not fit in a block's shared memory (", m_max_shared, " bytes)");
    detail::invert_spd_kernel<<<unsigned(count), 1024, bytes, m_stream>>>(a, n);
    FLARE_CUDA_LAUNCH_CHECK(m_stream);
  }

  // Launches are most of a small part's solve (about 45 per CG iteration, 3-8 us of work each at
  // 100k nodes): a loop sequence that repeats with the same buffers is captured once and replayed
  // as one launch. Everything it touches must stay allocated while the graph lives.
  class Graph {
   public:
    Graph() = default;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    ~Graph() {
      if (m_exec) FLARE_CUDA_CHECK_PRINT(cudaGraphExecDestroy(m_exec));
    }

   private:
    friend class CudaExec;
    cudaGraphExec_t m_exec = nullptr;
  };
  template <typename F>
  void graph(Graph& g, const F& f) const {
    if (!g.m_exec) {
      FLARE_CUDA_CHECK(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeThreadLocal));
      f();
      cudaGraph_t recorded = nullptr;
      FLARE_CUDA_CHECK(cudaStreamEndCapture(m_stream, &recorded));
      const cudaError_t made = cudaGraphInstantiate(&g.m_exec, recorded, 0);
      FLARE_CUDA_CHECK_PRINT(cudaGraphDestroy(recorded));
      FLARE_CUDA_CHECK(made);
    }
    FLARE_CUDA_CHECK(cudaGraphLaunch(g.m_exec, m_stream));
  }

  void synchronize() const { FLARE_CUDA_CHECK(cudaStreamSynchronize(m_stream)); }

 private:
  cudaStream_t m_stream = nullptr;
  int m_max_shared = 0;  // bytes of dynamic shared memory invert_spd_kernel may use
};

}  // namespace flare::am::lattice
