// The collectives of surrogate/comm.h. ctest runs this binary as one process (LocalComm) and, on a
// build with MPI, as 2 ranks under mpirun (test_comm_mpi: MpiComm, or NcclComm whose host paths are
// MpiComm's); every expectation is written for any number of ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/error.h"
#include "surrogate/comm.h"

using namespace flare;
using surrogate::Comm;

namespace {

Comm& comm() {
  static const std::unique_ptr<Comm> c = surrogate::make_comm();
  return *c;
}

// Host memory that claims to be a device's, counting transfers: the staged path of a GPU run,
// exercised without a GPU.
int g_downloads = 0, g_uploads = 0;
surrogate::Memory fake_device_memory() {
  surrogate::Memory m = surrogate::host_memory();
  m.host = false;
  m.download = [](void*, void* dst, const void* src, std::size_t bytes) {
    ++g_downloads;
    std::memcpy(dst, src, bytes);
  };
  m.upload = [](void*, void* dst, const void* src, std::size_t bytes) {
    ++g_uploads;
    std::memcpy(dst, src, bytes);
  };
  return m;
}

}  // namespace

TEST(Comm, BindsHostMemoryToMpiUnderALauncher) {
  EXPECT_EQ(comm().bind(surrogate::host_memory()),
            surrogate::launched_by_mpi() ? "MPI" : "single process");
}

TEST(Comm, SizeAndRankAreTheLaunchers) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(comm().size(), size ? std::atoi(size) : 1);
  EXPECT_EQ(comm().rank(), surrogate::launcher_rank());
  EXPECT_EQ(surrogate::launched_by_mpi(), size != nullptr);
  EXPECT_GE(comm().local_rank(), 0);
  EXPECT_LT(comm().local_rank(), comm().size());
}

TEST(Comm, AllReduceSumsHostFloats) {
  const int r = comm().rank(), n = comm().size();
  std::vector<float> x(1001);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((r + 1) * int(i));
  comm().allreduce_sum(x.data(), std::int64_t(x.size()), surrogate::host_memory());
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], float(n * (n + 1) / 2 * int(i))) << i;
}

TEST(Comm, AllReduceStagesDeviceBuffersThroughTheHost) {
  const surrogate::Memory dev = fake_device_memory();
  const int r = comm().rank(), n = comm().size();
  std::vector<float> x(37, float(r) + 0.5f);
  g_downloads = g_uploads = 0;
  comm().allreduce_sum(x.data(), std::int64_t(x.size()), dev);
  for (float v : x) ASSERT_EQ(v, float(n * (n - 1) / 2) + 0.5f * float(n));
  EXPECT_EQ(g_downloads, g_uploads);
  // Unbound (as on an NCCL build before bind), device buffers take the staged MPI path.
  if (n > 1) EXPECT_EQ(g_downloads, 1);
}

TEST(Comm, SumsDoublesTakesMaximaAndBroadcasts) {
  const int r = comm().rank(), n = comm().size();
  double d[2] = {r + 0.25, 1.0};
  comm().allreduce_sum(d, 2);
  EXPECT_DOUBLE_EQ(d[0], n * (n - 1) / 2.0 + 0.25 * n);
  EXPECT_DOUBLE_EQ(d[1], n);
  std::int64_t m[2] = {r, -r};
  comm().allreduce_max(m, 2);
  EXPECT_EQ(m[0], n - 1);
  EXPECT_EQ(m[1], 0);
  std::vector<int> b(5, r);
  comm().broadcast(b.data(), b.size() * sizeof(int), n - 1);
  for (int v : b) EXPECT_EQ(v, n - 1);
  comm().barrier();
}

TEST(Comm, PointSlicesCoverTheRowsInRankOrder) {
  for (std::int64_t n : {0, 1, 5, 101}) {
    for (int size : {1, 2, 3, 7}) {
      std::int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const surrogate::PointSlice s = surrogate::point_slice(n, r, size);
        EXPECT_EQ(s.lo, next) << n << " " << size << " " << r;
        EXPECT_GE(s.size(), n / size);
        EXPECT_LE(s.size(), n / size + 1);
        next = s.hi;
      }
      EXPECT_EQ(next, n);
    }
  }
}

TEST(Comm, AllgatherRowsAssemblesEveryRanksSlice) {
  const int r = comm().rank(), n = comm().size();
  for (std::int64_t rows : {std::int64_t(0), std::int64_t(1), std::int64_t(37)}) {
    const int width = 3;
    std::vector<float> all(std::size_t(rows * width), -1.0f);
    const surrogate::PointSlice mine = surrogate::point_slice(rows, r, n);
    for (std::int64_t i = mine.lo * width; i < mine.hi * width; ++i) all[std::size_t(i)] = float(i);
    surrogate::allgather_rows(comm(), all.data(), rows, width);
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], float(i)) << rows << " " << i;
  }
}

TEST(Comm, ExitCodesFollowMain) {
  auto code = [](auto e) { return surrogate::exit_code_of(std::make_exception_ptr(e)); };
  EXPECT_EQ(code(InputError("bad")), 2);
  EXPECT_EQ(code(std::runtime_error("bug")), 1);
  EXPECT_EQ(code(surrogate::PeerFailure(2)), 2);
}

// Ranks 1.. fail (rank 0 too when alone): the lowest failing rank rethrows its own error, every
// other rank throws PeerFailure with its exit code; a phase without failures passes everywhere.
TEST(Comm, AgreeLetsTheLowestFailingRankReport) {
  EXPECT_NO_THROW(surrogate::agree(comm(), nullptr));
  const int r = comm().rank(), n = comm().size();
  const int reporter = n == 1 ? 0 : 1;
  const std::exception_ptr mine =
      r >= reporter ? std::make_exception_ptr(InputError("rank " + std::to_string(r) + " failed"))
                    : nullptr;
  try {
    surrogate::agree(comm(), mine);
    ADD_FAILURE() << "agree returned although rank " << reporter << " failed";
  } catch (const surrogate::PeerFailure& e) {
    EXPECT_NE(r, reporter);
    EXPECT_EQ(e.code(), 2);
  } catch (const InputError& e) {
    EXPECT_EQ(r, reporter);
    EXPECT_EQ(std::string(e.what()), "rank " + std::to_string(r) + " failed");
  }
}

TEST(Comm, ChecksumSeesEveryBit) {
  std::vector<float> a(100, 0.5f);
  const auto h = surrogate::checksum(a.data(), 100);
  a[99] = std::nextafter(0.5f, 1.0f);
  EXPECT_NE(surrogate::checksum(a.data(), 100), h);
  a[99] = 0.5f;
  EXPECT_EQ(surrogate::checksum(a.data(), 100), h);
}

TEST(Comm, CheckReplicasCatchesADivergedRank) {
  std::vector<float> p(64, 0.25f);
  const auto h = surrogate::check_replicas(comm(), p.data(), 64);
  EXPECT_EQ(h, surrogate::checksum(p.data(), 64));
  if (comm().size() == 1) return;
  if (comm().rank() == 1) p[7] = -0.25f;
  EXPECT_THROW(surrogate::check_replicas(comm(), p.data(), 64), Error);
}

// A build without MPI started as several ranks would train independent copies into one file.
TEST(Comm, BuildWithoutMpiRefusesSeveralRanks) {
  if (surrogate::mpi_built()) GTEST_SKIP() << "built with MPI: a faked launcher would start MPI";
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  ::setenv("OMPI_COMM_WORLD_RANK", "0", 1);
  EXPECT_THROW(surrogate::make_comm(), InputError);
  ::setenv("OMPI_COMM_WORLD_RANK", "1", 1);  // the other rank leaves the report to rank 0
  EXPECT_THROW(surrogate::make_comm(), surrogate::PeerFailure);
  ::setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  EXPECT_EQ(surrogate::make_comm()->size(), 1);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("OMPI_COMM_WORLD_RANK");
}

// Two partials of one softmax-weighted mean merge into the mean over all points, in either order.
TEST(Comm, MergeSoftmaxEqualsTheSoftmaxOverTheUnion) {
  const std::vector<double> s = {0.3, -1.2, 2.5, 0.0, 1.1}, v = {1.0, -2.0, 0.5, 3.0, -1.0};
  auto partial = [&](std::size_t lo, std::size_t hi, float& lse, float& z) {
    double sum = 0, acc = 0;
    for (std::size_t i = lo; i < hi; ++i) sum += std::exp(s[i]), acc += std::exp(s[i]) * v[i];
    lse = hi > lo ? float(std::log(sum)) : -INFINITY;
    z = hi > lo ? float(acc / sum) : 0.0f;
  };
  float lse_all, z_all, lse_a, z_a, lse_b, z_b;
  partial(0, 5, lse_all, z_all);
  partial(0, 2, lse_a, z_a);
  partial(2, 5, lse_b, z_b);
  float l1 = lse_a, z1 = z_a, l2 = lse_b, z2 = z_b;
  surrogate::merge_softmax(l1, &z1, lse_b, &z_b, 1);
  surrogate::merge_softmax(l2, &z2, lse_a, &z_a, 1);
  EXPECT_NEAR(l1, lse_all, 1e-6);
  EXPECT_NEAR(z1, z_all, 1e-6);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(z1, z2);
  float le, ze;  // no points on one side
  partial(5, 5, le, ze);
  surrogate::merge_softmax(le, &ze, lse_all, &z_all, 1);
  EXPECT_EQ(le, lse_all);
  EXPECT_EQ(ze, z_all);
}
