#include "surrogate/comm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <new>
#include <sstream>
#include <string>

#include "common/error.h"
#ifdef FLARE_WITH_MPI
#include "surrogate/dist/mpi_comm.h"
#endif

namespace flare::surrogate {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* v = env(name);
  return v ? std::atoi(v) : fallback;
}

}  // namespace

void LocalComm::abort(int code) { std::exit(code); }

bool launched_by_mpi() {
  return env("OMPI_COMM_WORLD_SIZE") || env("PMI_SIZE") || env("PMIX_RANK");
}

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (env(name)) return env_int(name, 0);
  return 0;
}

bool mpi_built() {
#ifdef FLARE_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#ifdef FLARE_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Comm> make_comm() {
  if (!launched_by_mpi()) return std::make_unique<LocalComm>();
#if defined(FLARE_WITH_NCCL)
  return make_nccl_comm();
#elif defined(FLARE_WITH_MPI)
  return std::make_unique<MpiComm>();
#else
  const int size = env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", 1));
  if (size > 1 && launcher_rank() > 0) throw PeerFailure(2);
  FLARE_INPUT_CHECK(size <= 1, "started as ", size,
                    " MPI processes, but this flare-surrogate was built without MPI (each would "
                    "run the whole job alone, into the same files); install libopenmpi-dev "
                    "(scripts/install-deps.sh) and rebuild, or run one process");
  return std::make_unique<LocalComm>();
#endif
}

int exit_code_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const PeerFailure& e) {
    return e.code();
  } catch (const InputError&) {
    return 2;
  } catch (...) {
    return 1;
  }
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return "out of memory (try a smaller input or batch)";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

void agree(Comm& comm, const std::exception_ptr& error) {
  // One max-reduce carries both who reports and with what code: the lowest failing rank has the
  // largest (size − rank), and the code (1 or 2) rides in the low bits.
  std::int64_t v = error ? std::int64_t(comm.size() - comm.rank()) * 4 + exit_code_of(error) : 0;
  comm.allreduce_max(&v, 1);
  if (v == 0) return;
  const int reporter = comm.size() - int(v / 4);
  if (comm.rank() == reporter && error) std::rethrow_exception(error);
  throw PeerFailure(int(v % 4));
}

void merge_softmax(float& lse_a, float* z_a, float lse_b, const float* z_b, int D) {
  if (lse_b == -INFINITY) return;  // b has no points
  if (lse_a == -INFINITY) {
    lse_a = lse_b;
    std::copy(z_b, z_b + D, z_a);
    return;
  }
  // Weights relative to the larger lse: exp never overflows, the larger side weighs ≥ 1/2.
  const float m = std::max(lse_a, lse_b);
  const float ea = std::exp(lse_a - m), eb = std::exp(lse_b - m);
  const float sum = ea + eb;
  const float wa = ea / sum, wb = eb / sum;
  for (int d = 0; d < D; ++d) z_a[d] = wa * z_a[d] + wb * z_b[d];
  lse_a = m + std::log(sum);
}

PointSlice point_slice(std::int64_t n, int rank, int size) {
  return {n * rank / size, n * (rank + 1) / size};
}

void allgather_rows(Comm& comm, float* all, std::int64_t n, std::int64_t width) {
  for (int r = 0; r < comm.size(); ++r) {
    const PointSlice s = point_slice(n, r, comm.size());
    if (s.size() > 0)
      comm.broadcast(all + s.lo * width, std::size_t(s.size() * width) * sizeof(float), r);
  }
}

std::uint64_t checksum(const float* host, std::int64_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(host);
  for (std::int64_t i = 0; i < n * std::int64_t(sizeof(float)); ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t check_replicas(Comm& comm, const float* host, std::int64_t n) {
  const std::uint64_t mine = checksum(host, n);
  std::uint64_t first = mine;
  comm.broadcast(&first, sizeof first, 0);
  std::int64_t differs = mine != first ? 1 : 0;
  comm.allreduce_max(&differs, 1);
  if (differs) {
    std::ostringstream s;
    s << "data-parallel replicas diverged: the parameters of rank " << comm.rank() << " (checksum "
      << std::hex << std::setw(16) << std::setfill('0') << mine << ") differ from rank 0's ("
      << std::setw(16) << first << ")";
    throw Error(s.str());
  }
  return mine;
}

}  // namespace flare::surrogate
