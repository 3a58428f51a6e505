// CUDA plumbing: error translation, allocation accounting, CudaContext. See common.cuh.
#include "kernels/cuda/common.cuh"

#include "kernels/cuda/cublaslt_api.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

namespace flare::cuda {

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  cudaGetLastError();  // clear a sticky launch error so the next test starts clean
  throw Error(detail::concat("CUDA error: ", expr, " failed at ", file, ":", line, ": ",
                             cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line) {
  throw Error(detail::concat("cuBLAS error: ", expr, " failed at ", file, ":", line, ": ",
                             cublaslt().status_name(st), " (", cublaslt().status_string(st), ")"));
}

void print_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  std::fprintf(stderr, "CUDA error: %s failed at %s:%d: %s\n", expr, file, line,
               cudaGetErrorString(err));
}

bool cuda_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
}

bool sync_check_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("FLARE_SYNC_CHECK");
    return v && v[0] == '1';
  }();
  return on;
}

namespace {
std::atomic<std::int64_t> g_count{0}, g_now{0}, g_peak{0};

void note_alloc(std::int64_t bytes) {
  g_count.fetch_add(1);
  std::int64_t now = g_now.fetch_add(bytes) + bytes;
  std::int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

AllocStats alloc_stats() { return {g_count.load(), g_now.load(), g_peak.load()}; }
void reset_alloc_peak() { g_peak.store(g_now.load()); }

void* device_malloc(std::size_t bytes, const char* what) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw InputError(detail::concat(
        "out of GPU memory allocating ", what, ": asked for ", bytes / double(1 << 20), " MiB with ",
        free_b / double(1 << 20), " MiB free of ", total_b / double(1 << 20),
        " MiB; try --precision bf16 (half the activation memory), for training --recompute "
        "(about L times less activation memory) or fewer meshes per batch; otherwise a smaller "
        "mesh or a GPU with more memory"));
  }
  FLARE_CUDA_CHECK(err);
  note_alloc(std::int64_t(bytes));
  return p;
}

void device_free(void* p, std::size_t bytes) noexcept {
  FLARE_CUDA_CHECK_PRINT(cudaFree(p));
  g_now.fetch_sub(std::int64_t(bytes));
}

CudaContext::CudaContext(int device) : m_device(device) {
  FLARE_CHECK(cuda_available(), "no CUDA device is available (run with --device cpu)");
  FLARE_CUDA_CHECK(cudaSetDevice(device));
  FLARE_CUDA_CHECK(cudaGetDeviceProperties(&m_props, device));
  FLARE_CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
  FLARE_CUBLAS_CHECK(cublaslt().create(&m_cublas_lt));
  m_lt_workspace.resize(std::size_t(32) << 20, "cuBLASLt workspace");
  m_reduce.resize(kReduceSlots, "reduction slots");
  FLARE_CUDA_CHECK(cudaMallocHost(&m_host_staging, kReduceSlots * sizeof(double)));
  FLARE_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&m_stage), kStageSlots * kStageSlotBytes));
  for (auto& e : m_stage_read) FLARE_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
}

CudaContext::~CudaContext() {
  if (m_stream) FLARE_CUDA_CHECK_PRINT(cudaStreamSynchronize(m_stream));
  if (m_host_staging) FLARE_CUDA_CHECK_PRINT(cudaFreeHost(m_host_staging));
  for (auto& e : m_stage_read)
    if (e) FLARE_CUDA_CHECK_PRINT(cudaEventDestroy(e));
  if (m_stage) FLARE_CUDA_CHECK_PRINT(cudaFreeHost(m_stage));
  if (m_cublas_lt) cublaslt().destroy(m_cublas_lt);
  if (m_stream) FLARE_CUDA_CHECK_PRINT(cudaStreamDestroy(m_stream));
}

void* CudaContext::scratch(std::size_t bytes) {
  if (bytes > m_scratch.size()) {
    // Work queued on the stream may still read the old scratch: drain before freeing it.
    synchronize();
    m_scratch.resize(bytes + bytes / 4, "kernel scratch");
  }
  return m_scratch.data();
}

void CudaContext::upload_async(void* dst, const void* src, std::size_t bytes) {
  FLARE_CHECK(bytes <= kStageSlotBytes, "upload_async of ", bytes, " bytes (at most ",
              kStageSlotBytes, ")");
  if (bytes == 0) return;
  const int slot = m_stage_next;
  m_stage_next = (m_stage_next + 1) % kStageSlots;
  // Returns at once unless this slot's previous copy is still queued (a never-recorded event
  // counts as done).
  FLARE_CUDA_CHECK(cudaEventSynchronize(m_stage_read[slot]));
  std::byte* staged = m_stage + std::size_t(slot) * kStageSlotBytes;
  std::memcpy(staged, src, bytes);
  FLARE_CUDA_CHECK(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyHostToDevice, m_stream));
  FLARE_CUDA_CHECK(cudaEventRecord(m_stage_read[slot], m_stream));
}

std::string device_summary(const CudaContext& ctx) {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::ostringstream os;
  os << ctx.props().name << ", " << ctx.sm_count() << " SMs, "
     << ctx.props().totalGlobalMem / double(1ull << 30) << " GiB, driver " << driver / 1000 << "."
     << (driver % 1000) / 10 << ", runtime " << runtime / 1000 << "." << (runtime % 1000) / 10;
  return os.str();
}

}  // namespace flare::cuda
