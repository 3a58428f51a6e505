// The CUDA backend's plumbing: error checks that throw, the per-device context (stream, the
// cuBLASLt handle, device properties, reusable scratch; cuBLASLt itself is loaded with the first
// context, cublaslt_api.h), and an RAII device buffer that counts allocations.
//
// Host-includable (no device code): app/ and tests compile it with the C++ compiler.
//
// Why a process-wide allocation counter and not one per context: allocations also happen outside
// any context (test inputs, model parameters), and the "no cudaMalloc inside a training step" test
// needs to see every one of them (tiny-cuda-nn keeps a global byte counter for the same reason).
// Handles and device facts, by contrast, live in CudaContext (no globals: llm.c's extern
// cublas_handle is what STYLE.md asks us to avoid).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace flare::cuda {

using bf16 = __nv_bfloat16;

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line);
void print_cuda_error(cudaError_t err, const char* expr, const char* file, int line);

/// True when at least one CUDA device is usable (GPU tests GTEST_SKIP otherwise).
bool cuda_available();

/// FLARE_SYNC_CHECK=1 in the environment: synchronise after every launch so an asynchronous fault
/// is reported at the launch that caused it.
bool sync_check_enabled();

}  // namespace flare::cuda

/// Throws flare::Error("expr failed at file:line: <cuda error string>") when expr is not cudaSuccess.
#define FLARE_CUDA_CHECK(expr)                                                        \
  do {                                                                                \
    cudaError_t flare_err_ = (expr);                                                  \
    if (flare_err_ != cudaSuccess)                                                    \
      ::flare::cuda::throw_cuda_error(flare_err_, #expr, __FILE__, __LINE__);         \
  } while (0)
/// For destructors: prints instead of throwing.
#define FLARE_CUDA_CHECK_PRINT(expr)                                                  \
  do {                                                                                \
    cudaError_t flare_err_ = (expr);                                                  \
    if (flare_err_ != cudaSuccess)                                                    \
      ::flare::cuda::print_cuda_error(flare_err_, #expr, __FILE__, __LINE__);         \
  } while (0)
#define FLARE_CUBLAS_CHECK(expr)                                                      \
  do {                                                                                \
    cublasStatus_t flare_st_ = (expr);                                                \
    if (flare_st_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::flare::cuda::throw_cublas_error(flare_st_, #expr, __FILE__, __LINE__);        \
  } while (0)
/// After every kernel launch: the launch error, and with FLARE_SYNC_CHECK=1 the execution error.
#define FLARE_CUDA_LAUNCH_CHECK(stream)                                                          \
  do {                                                                                           \
    FLARE_CUDA_CHECK(cudaGetLastError());                                                        \
    if (::flare::cuda::sync_check_enabled()) FLARE_CUDA_CHECK(cudaStreamSynchronize(stream));    \
  } while (0)

namespace flare::cuda {

/// Process-wide device allocation statistics (all DeviceBuffers).
struct AllocStats {
  std::int64_t count = 0;        ///< cudaMalloc calls made so far
  std::int64_t bytes_now = 0;    ///< bytes currently held
  std::int64_t bytes_peak = 0;   ///< high-water mark of bytes_now (reset with reset_peak)
};
AllocStats alloc_stats();
void reset_alloc_peak();

/// Raw allocation with the project's out-of-memory message (InputError: the user can shrink the
/// problem). `what` names the tensor for the message.
void* device_malloc(std::size_t bytes, const char* what);
void device_free(void* p, std::size_t bytes) noexcept;

/// Owning, move-only device array of T. Zero-sized buffers hold nullptr and allocate nothing.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n, const char* what = "buffer") { resize(n, what); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : m_data(std::exchange(o.m_data, nullptr)), m_size(std::exchange(o.m_size, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      m_data = std::exchange(o.m_data, nullptr);
      m_size = std::exchange(o.m_size, 0);
    }
    return *this;
  }

  /// Discards the contents and reallocates when n differs from the current size.
  void resize(std::size_t n, const char* what = "buffer") {
    if (n == m_size) return;
    release();
    if (n) m_data = static_cast<T*>(device_malloc(n * sizeof(T), what));
    m_size = n;
  }
  /// Grows (discarding contents) only when n exceeds the current size: scratch space.
  void reserve(std::size_t n, const char* what = "scratch") {
    if (n > m_size) resize(n, what);
  }

  // Transfers and fills without a stream wait for the whole device first (and fills after):
  // CudaContext streams are non-blocking, so the legacy default stream does not order itself
  // after their kernels. These are conveniences for tests and setup; the model moves data
  // through surrogate::Memory on its context's stream.
  void upload(const T* host, std::size_t n, cudaStream_t stream = nullptr) {
    FLARE_CHECK(n <= m_size, "upload of ", n, " elements into a buffer of ", m_size);
    if (!stream) FLARE_CUDA_CHECK(cudaDeviceSynchronize());
    if (n) FLARE_CUDA_CHECK(cudaMemcpyAsync(m_data, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
    FLARE_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  void upload(const std::vector<T>& host, cudaStream_t stream = nullptr) {
    resize(host.size());
    upload(host.data(), host.size(), stream);
  }
  std::vector<T> download(cudaStream_t stream = nullptr) const {
    std::vector<T> host(m_size);
    if (!stream) FLARE_CUDA_CHECK(cudaDeviceSynchronize());
    if (m_size)
      FLARE_CUDA_CHECK(cudaMemcpyAsync(host.data(), m_data, m_size * sizeof(T), cudaMemcpyDeviceToHost, stream));
    FLARE_CUDA_CHECK(cudaStreamSynchronize(stream));
    return host;
  }
  /// Fills every byte with `byte` (0xFF poisons floats with NaN for "every element written" checks).
  void fill_bytes(int byte, cudaStream_t stream = nullptr) {
    if (!stream) FLARE_CUDA_CHECK(cudaDeviceSynchronize());
    if (m_size) FLARE_CUDA_CHECK(cudaMemsetAsync(m_data, byte, m_size * sizeof(T), stream));
    if (!stream) FLARE_CUDA_CHECK(cudaDeviceSynchronize());
  }

  T* data() { return m_data; }
  const T* data() const { return m_data; }
  std::size_t size() const { return m_size; }
  std::size_t bytes() const { return m_size * sizeof(T); }

 private:
  void release() noexcept {
    if (m_data) device_free(m_data, m_size * sizeof(T));
    m_data = nullptr;
    m_size = 0;
  }
  T* m_data = nullptr;
  std::size_t m_size = 0;
};

/// One device, one stream, the cuBLASLt handle and reusable scratch. Launchers take it by reference
/// (ggml's ggml_backend_cuda_context). Not thread-safe: one context per host thread.
class CudaContext {
 public:
  /// Selects `device`, creates a non-blocking stream and the cuBLASLt handle, and
  /// allocates the cuBLASLt workspace (32 MiB, once).
  explicit CudaContext(int device = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  cudaStream_t stream() const { return m_stream; }
  cublasLtHandle_t cublas_lt() const { return m_cublas_lt; }
  const cudaDeviceProp& props() const { return m_props; }
  int device() const { return m_device; }
  int sm_count() const { return m_props.multiProcessorCount; }

  void* lt_workspace() { return m_lt_workspace.data(); }
  std::size_t lt_workspace_bytes() const { return m_lt_workspace.bytes(); }

  /// Scratch of at least `bytes`, 256-byte aligned, valid until the next scratch() call with a
  /// larger size. Grows on demand, so the first call of a shape allocates and later ones do not.
  void* scratch(std::size_t bytes);
  /// Small host-pinned staging area for scalar results (losses, norms) copied back each step.
  double* host_staging() { return m_host_staging; }
  /// Device fp64 accumulators for reductions (losses, norms): kReduceSlots doubles, allocated once.
  static constexpr int kReduceSlots = 8192;
  double* reduce_slots() { return m_reduce.data(); }

  void synchronize() const { FLARE_CUDA_CHECK(cudaStreamSynchronize(m_stream)); }

  /// Largest upload that upload_async stages.
  static constexpr std::size_t kStageSlotBytes = 16 << 10;
  /// Copies `bytes` (≤ kStageSlotBytes) of host memory to dst on the stream and returns without
  /// waiting for it: the bytes are first copied into a slot of a pinned ring whose reuse waits for
  /// the copy that read it. The caller may reuse src at once, as after a synchronous copy; the
  /// stream stays busy (a batch's offsets, a step's scalars), so the host runs ahead of the GPU.
  void upload_async(void* dst, const void* src, std::size_t bytes);

 private:
  int m_device = 0;
  cudaDeviceProp m_props{};
  cudaStream_t m_stream = nullptr;
  cublasLtHandle_t m_cublas_lt = nullptr;
  DeviceBuffer<std::byte> m_lt_workspace;
  DeviceBuffer<std::byte> m_scratch;
  DeviceBuffer<double> m_reduce;
  double* m_host_staging = nullptr;  // pinned [kReduceSlots]
  static constexpr int kStageSlots = 64;
  std::byte* m_stage = nullptr;          // pinned [kStageSlots · kStageSlotBytes]
  cudaEvent_t m_stage_read[kStageSlots] = {};  // recorded after the copy out of each slot
  int m_stage_next = 0;
};

/// Device description for benchmark reports: name, SMs, memory, CUDA driver/runtime versions.
std::string device_summary(const CudaContext& ctx);

}  // namespace flare::cuda
