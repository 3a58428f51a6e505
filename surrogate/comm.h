// Collectives between the processes of one data-parallel job (docs/distributed.md).
//
// `train` runs the same program on every rank; the ranks meet only here: the gradient sum once per
// optimizer step, a few metric sums, and agreement on failures. Three implementations:
//   LocalComm  one process (not started by an MPI launcher, or a build without MPI): every
//              collective is the identity, so the single-process trainer pays nothing;
//   MpiComm    MPI_COMM_WORLD (surrogate/dist/mpi_comm.cpp): host buffers directly, device
//              buffers staged through host memory (any CUDA, any MPI, GPUs shared by ranks);
//   NcclComm   MpiComm whose device all-reduces go over NCCL when every rank has its own GPU
//              (surrogate/dist/nccl_comm.cpp), bootstrapped through MPI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "surrogate/buffer.h"

namespace flare::surrogate {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Rank among the processes of this host: the GPU a rank uses is local_rank % device count.
  virtual int local_rank() const = 0;

  /// Readies all-reduces of buffers in `mem` (collective: every rank calls it once, with the same
  /// kind of memory). Returns how they will travel, for the log.
  virtual std::string bind(const Memory& mem) = 0;
  /// data [n] in `mem` ← its sum over all ranks, the same bits on every rank. Collective.
  virtual void allreduce_sum(float* data, std::int64_t n, const Memory& mem) = 0;
  /// host [n] ← the sum over all ranks. Collective.
  virtual void allreduce_sum(double* host, std::int64_t n) = 0;
  /// host [n] ← the maximum over all ranks. Collective.
  virtual void allreduce_max(std::int64_t* host, std::int64_t n) = 0;
  /// Softmax partials over disjoint sets of points, merged in place (one all-reduce): for each of
  /// `rows` rows, lse (host [rows], log Σ exp over this rank's points, -inf for none) and z (host
  /// [rows, D], the softmax-weighted mean over them) become those over all ranks' points:
  /// lse = log Σ_r exp(lse_r), z = Σ_r exp(lse_r − lse)·z_r. Collective.
  virtual void allreduce_softmax(float* lse, float* z, std::int64_t rows, int D) = 0;
  /// host [bytes] on every rank ← root's. Collective.
  virtual void broadcast(void* host, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  /// Ends every process of the job with `code`: a rank that fails alone must not leave the others
  /// blocked in their next collective.
  [[noreturn]] virtual void abort(int code) = 0;
};

/// One process: rank 0 of 1.
class LocalComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string bind(const Memory&) override { return "single process"; }
  void allreduce_sum(float*, std::int64_t, const Memory&) override {}
  void allreduce_sum(double*, std::int64_t) override {}
  void allreduce_max(std::int64_t*, std::int64_t) override {}
  void allreduce_softmax(float*, float*, std::int64_t, int) override {}
  void broadcast(void*, std::size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override;
};

/// Whether an MPI launcher (mpirun/mpiexec of Open MPI or MPICH, srun) started this process, read
/// from the variables they set (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK).
bool launched_by_mpi();
/// This process's rank as the launcher's environment says (0 when not launched by MPI): known
/// before MPI starts, so option errors can be printed by rank 0 alone.
int launcher_rank();

/// MpiComm (NcclComm where built with NCCL) over all the processes of the job when an MPI launcher
/// started this one, else LocalComm: a plain `flare-surrogate train` or `predict` never
/// initialises MPI (Open MPI's singleton start would spawn a daemon for nothing). InputError when
/// launched as several processes by a build without MPI, which would run N independent copies.
std::unique_ptr<Comm> make_comm();

bool mpi_built();
bool nccl_built();

/// Thrown on the ranks whose failure, or a peer's, another rank reports: the caller exits with
/// `code` and prints nothing, so an error that every rank hits is printed once.
class PeerFailure : public std::runtime_error {
 public:
  explicit PeerFailure(int code)
      : std::runtime_error("another rank failed (it printed why)"), m_code(code) {}
  int code() const { return m_code; }

 private:
  int m_code;
};

/// A failure of one rank after the ranks began to step together: its peers may be waiting for it
/// in a collective, so whoever catches it reports it and ends the job (Comm::abort).
class RankFailure : public std::runtime_error {
 public:
  RankFailure(const std::string& what, int code) : std::runtime_error(what), m_code(code) {}
  int code() const { return m_code; }

 private:
  int m_code;
};

/// The message of a failure (what(), or a description of a non-standard exception).
std::string message_of(const std::exception_ptr& error);

/// Exit code of a failure, as app/main.cpp maps them: 2 for InputError (bad input or usage),
/// else 1.
int exit_code_of(const std::exception_ptr& error);

/// One collective on the outcome of a phase that every rank runs (options, dataset, model setup):
/// `error` is this rank's failure or null. Returns when every rank succeeded; otherwise the lowest
/// failing rank rethrows its failure and every other rank throws PeerFailure with its exit code.
void agree(Comm& comm, const std::exception_ptr& error);

/// Runs `step` on this rank and agrees on its outcome (agree): every rank calls it.
template <typename F>
void agree_on(Comm& comm, F&& step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  agree(comm, error);
}

/// Merges the softmax partial (lse_b, z_b [D]) into (lse_a, z_a [D]): the pair over the union of
/// both point sets. Symmetric in its arguments, so a reduction may apply it in any order.
void merge_softmax(float& lse_a, float* z_a, float lse_b, const float* z_b, int D);

/// The rows [lo, hi) of n that `rank` of `size` holds in a point-sharded run: contiguous slices in
/// rank order whose sizes differ by at most one (a rank may hold none when n < size).
struct PointSlice {
  std::int64_t lo = 0, hi = 0;
  std::int64_t size() const { return hi - lo; }
};
PointSlice point_slice(std::int64_t n, int rank, int size);

/// host all [n·width]: on entry each rank holds its point_slice(n) rows of `width` floats, on exit
/// every rank holds all n rows (a point-sharded prediction assembled on every rank). Collective:
/// one broadcast per rank, so it needs no other primitive than Comm's.
void allgather_rows(Comm& comm, float* all, std::int64_t n, std::int64_t width);

/// FNV-1a 64 of the bits of host [n].
std::uint64_t checksum(const float* host, std::int64_t n);

/// The checksum of params host [n], equal on all ranks; Error when the replicas differ (a
/// data-parallel run keeps them identical bit for bit, so a difference is a bug, not rounding).
std::uint64_t check_replicas(Comm& comm, const float* host, std::int64_t n);

}  // namespace flare::surrogate
