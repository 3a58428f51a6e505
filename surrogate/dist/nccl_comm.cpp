// MpiComm whose device all-reduces go over NCCL: NVLink/PCIe between the GPUs of a host, the
// network between hosts, without the two host copies of the staged path. Compiled only when CMake
// found NCCL (FLARE_NCCL_ROOT, docs/distributed.md) next to CUDA and MPI.
//
// NCCL needs one GPU per rank: when ranks share a GPU (tests, or more ranks than GPUs) bind()
// keeps the staged MPI path, which works for any placement. FLARE_NCCL=0 asks for it too.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/cuda/common.cuh"
#include "surrogate/dist/mpi_comm.h"

#define FLARE_NCCL_CHECK(expr)                                                                    \
  do {                                                                                            \
    const ncclResult_t flare_nccl_r = (expr);                                                     \
    if (flare_nccl_r != ncclSuccess)                                                              \
      throw ::flare::Error(::flare::detail::concat(#expr,                                         \
                                                   " failed: ", ncclGetErrorString(flare_nccl_r), \
                                                   " [", __FILE__, ":", __LINE__, "]"));          \
  } while (0)

namespace flare::surrogate {

namespace {

class NcclComm final : public MpiComm {
 public:
  ~NcclComm() override {
    if (m_nccl) ncclCommDestroy(m_nccl);
  }

  std::string bind(const Memory& mem) override {
    if (mem.host) return MpiComm::bind(mem);
    const char* off = std::getenv("FLARE_NCCL");
    if (off && std::string(off) == "0") return MpiComm::bind(mem) + " (FLARE_NCCL=0)";
    if (shares_a_gpu()) return MpiComm::bind(mem) + " (ranks share a GPU, which NCCL refuses)";
    // NVLink multicast (NVLS) is not allowed on the GPU hosts this runs on: it can take a host's
    // shared GPUs out of service. Set before NCCL reads its environment, overriding the caller.
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    ncclUniqueId id;
    if (m_rank == 0) FLARE_NCCL_CHECK(ncclGetUniqueId(&id));
    // NCCL's bootstrap needs its id on every rank; MPI is already connected, so it carries it.
    broadcast(&id, sizeof id, 0);
    FLARE_NCCL_CHECK(ncclCommInitRank(&m_nccl, m_size, id, m_rank));
    m_stream = static_cast<cuda::CudaContext*>(mem.ctx)->stream();
    int version = 0;
    ncclGetVersion(&version);
    return "NCCL " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) +
           "." + std::to_string(version % 100);
  }

  void allreduce_sum(float* data, std::int64_t n, const Memory& mem) override {
    if (mem.host || !m_nccl) return MpiComm::allreduce_sum(data, n, mem);
    // In place, on the model's stream: the optimizer step queued after it waits for it there.
    FLARE_NCCL_CHECK(
        ncclAllReduce(data, data, std::size_t(n), ncclFloat, ncclSum, m_nccl, m_stream));
  }
  using MpiComm::allreduce_sum;

 private:
  // Whether two ranks run on the same physical GPU (host name + PCI bus id), gathered from all.
  bool shares_a_gpu() {
    constexpr int kKey = MPI_MAX_PROCESSOR_NAME + 32;
    char key[kKey] = {};
    int len = 0;
    MPI_Get_processor_name(key, &len);
    int device = 0;
    FLARE_CUDA_CHECK(cudaGetDevice(&device));
    key[len] = '/';
    FLARE_CUDA_CHECK(cudaDeviceGetPCIBusId(key + len + 1, kKey - len - 2, device));
    std::vector<char> all(std::size_t(kKey) * std::size_t(m_size));
    MPI_Allgather(key, kKey, MPI_CHAR, all.data(), kKey, MPI_CHAR, m_comm);
    std::set<std::string> distinct;
    for (int r = 0; r < m_size; ++r)
      distinct.insert(std::string(all.data() + std::size_t(r) * kKey));
    return int(distinct.size()) < m_size;
  }

  ncclComm_t m_nccl = nullptr;
  cudaStream_t m_stream = nullptr;
};

}  // namespace

std::unique_ptr<Comm> make_nccl_comm() { return std::make_unique<NcclComm>(); }

}  // namespace flare::surrogate
