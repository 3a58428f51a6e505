// Comm over MPI_COMM_WORLD (surrogate/comm.h). Compiled only when CMake found MPI; the rest of the
// project sees it through make_comm().
#pragma once

#include <mpi.h>

#include <memory>
#include <vector>

#include "surrogate/comm.h"

namespace flare::surrogate {

class MpiComm : public Comm {
 public:
  /// Initialises MPI unless the process already did, on a private duplicate of MPI_COMM_WORLD.
  MpiComm();
  ~MpiComm() override;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  int local_rank() const override { return m_local_rank; }
  std::string bind(const Memory& mem) override;
  /// Device memory is staged through a host copy: one download, the MPI sum, one upload.
  void allreduce_sum(float* data, std::int64_t n, const Memory& mem) override;
  void allreduce_sum(double* host, std::int64_t n) override;
  void allreduce_max(std::int64_t* host, std::int64_t n) override;
  /// One MPI_Allreduce of rows records (lse, z [D]) under a user op that applies merge_softmax.
  void allreduce_softmax(float* lse, float* z, std::int64_t rows, int D) override;
  void broadcast(void* host, std::size_t bytes, int root) override;
  void barrier() override;
  [[noreturn]] void abort(int code) override;

 protected:
  MPI_Comm m_comm = MPI_COMM_NULL;
  int m_rank = 0, m_size = 1, m_local_rank = 0;

 private:
  bool m_owns_mpi = false;
  std::vector<float> m_staging;
  std::vector<float> m_records;  // allreduce_softmax's packed (lse, z) rows
};

#ifdef FLARE_WITH_NCCL
/// MpiComm whose device all-reduces go over NCCL (surrogate/dist/nccl_comm.cpp).
std::unique_ptr<Comm> make_nccl_comm();
#endif

}  // namespace flare::surrogate
