#include "surrogate/dist/mpi_comm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>

namespace flare::surrogate {

namespace {

// MPI counts are int: longer buffers go in chunks of 2^30 elements.
constexpr std::int64_t kChunk = std::int64_t(1) << 30;

template <typename T>
void allreduce_chunked(T* data, std::int64_t n, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  for (std::int64_t i = 0; i < n; i += kChunk)
    MPI_Allreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), type, op, comm);
}

// MPI_User_function over records of (lse, z [D]) floats; D follows from the record type's size.
void merge_records(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const int D = bytes / int(sizeof(float)) - 1;
  const auto* a = static_cast<const float*>(in);
  auto* b = static_cast<float*>(inout);
  for (int i = 0; i < *len; ++i, a += D + 1, b += D + 1) merge_softmax(b[0], b + 1, a[0], a + 1, D);
}

}  // namespace

// MPI's default error handler (MPI_ERRORS_ARE_FATAL) is kept: a collective that failed on one
// rank cannot be recovered by the others, and Open MPI names the failure before it ends the job.
MpiComm::MpiComm() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    // FUNNELED: OpenMP threads compute, only the main thread calls MPI.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    m_owns_mpi = true;
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &m_comm);
  MPI_Comm_rank(m_comm, &m_rank);
  MPI_Comm_size(m_comm, &m_size);
  // The ranks that share this host's memory are the ones that share its GPUs.
  MPI_Comm local;
  MPI_Comm_split_type(m_comm, MPI_COMM_TYPE_SHARED, m_rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &m_local_rank);
  MPI_Comm_free(&local);
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  MPI_Comm_free(&m_comm);
  if (m_owns_mpi) MPI_Finalize();
}

std::string MpiComm::bind(const Memory& mem) {
  return mem.host ? "MPI" : "MPI, device buffers staged through host memory";
}

void MpiComm::allreduce_sum(float* data, std::int64_t n, const Memory& mem) {
  if (mem.host) {
    allreduce_chunked(data, n, MPI_FLOAT, MPI_SUM, m_comm);
    return;
  }
  m_staging.resize(std::size_t(n));
  mem.download(mem.ctx, m_staging.data(), data, std::size_t(n) * sizeof(float));
  allreduce_chunked(m_staging.data(), n, MPI_FLOAT, MPI_SUM, m_comm);
  mem.upload(mem.ctx, data, m_staging.data(), std::size_t(n) * sizeof(float));
}

void MpiComm::allreduce_sum(double* host, std::int64_t n) {
  allreduce_chunked(host, n, MPI_DOUBLE, MPI_SUM, m_comm);
}

void MpiComm::allreduce_max(std::int64_t* host, std::int64_t n) {
  allreduce_chunked(host, n, MPI_INT64_T, MPI_MAX, m_comm);
}

void MpiComm::allreduce_softmax(float* lse, float* z, std::int64_t rows, int D) {
  m_records.resize(std::size_t(rows) * std::size_t(D + 1));
  for (std::int64_t r = 0; r < rows; ++r) {
    float* rec = m_records.data() + r * (D + 1);
    rec[0] = lse[r];
    std::copy(z + r * D, z + (r + 1) * D, rec + 1);
  }
  MPI_Datatype record;
  MPI_Type_contiguous(D + 1, MPI_FLOAT, &record);
  MPI_Type_commit(&record);
  MPI_Op op;
  MPI_Op_create(&merge_records, /*commute=*/1, &op);
  for (std::int64_t i = 0; i < rows; i += kChunk)
    MPI_Allreduce(MPI_IN_PLACE, m_records.data() + i * (D + 1), int(std::min(kChunk, rows - i)),
                  record, op, m_comm);
  MPI_Op_free(&op);
  MPI_Type_free(&record);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* rec = m_records.data() + r * (D + 1);
    lse[r] = rec[0];
    std::copy(rec + 1, rec + 1 + D, z + r * D);
  }
}

void MpiComm::broadcast(void* host, std::size_t bytes, int root) {
  auto* p = static_cast<char*>(host);
  for (std::size_t i = 0; i < bytes; i += std::size_t(kChunk))
    MPI_Bcast(p + i, int(std::min<std::size_t>(std::size_t(kChunk), bytes - i)), MPI_BYTE, root,
              m_comm);
}

void MpiComm::barrier() { MPI_Barrier(m_comm); }

void MpiComm::abort(int code) {
  MPI_Abort(m_comm, code);
  std::_Exit(code);  // MPI_Abort does not return on a working MPI; this keeps [[noreturn]] true
}

}  // namespace flare::surrogate
