// The cpu mixer never materialises an N×M matrix: at N = 2M points, H = 1, M = 64, D = 8 such a
// matrix is N·M·4 B = 512 MB, while the inputs and outputs are N·D·4 B = 64 MB each. All buffers are
// allocated and touched first; the growth of the peak RSS across the four mixer ops must stay below
// 1/16 of N·M·4 B (the per-thread tiles are O(M·128) floats). A separate test binary, so that no
// earlier test has raised the process's peak.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "tests/kernels/compare.h"

namespace cpu = flare::kernels::cpu;

namespace {
long peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024L;  // Linux reports KiB
}
}  // namespace

TEST(MixerMemory, PeakRssStaysFarBelowNTimesM) {
  const int B = 1, H = 1, M = 64, D = 8;
  const std::int64_t N = 2'000'000;
  const std::vector<std::int64_t> off = {0, N};
  const auto Q = flare::test::randn(std::size_t(H) * M * D, 1, 0.5);
  const auto K = flare::test::randn(N * D, 2, 0.5), V = flare::test::randn(N * D, 3);
  std::vector<float> Z(std::size_t(M) * D), le(M), dZ(Z.size(), 1.0f), dQ(Q.size(), 0.0f);
  std::vector<float> Y(N * D, 0.0f), ld(N, 0.0f), dY(N * D, 1.0f), dK(N * D, 0.0f), dV(N * D, 0.0f);
  const long before = peak_rss_bytes();

  cpu::flare_encode_fwd(Q.data(), K.data(), V.data(), off.data(), B, H, M, D, 1.0f, Z.data(), le.data());
  cpu::flare_decode_fwd(Q.data(), K.data(), Z.data(), off.data(), B, H, M, D, 1.0f, Y.data(), ld.data());
  cpu::flare_decode_bwd(Q.data(), K.data(), Z.data(), Y.data(), ld.data(), dY.data(), off.data(), B, H, M, D, 1.0f,
                        dQ.data(), dK.data(), dZ.data());
  cpu::flare_encode_bwd(Q.data(), K.data(), V.data(), Z.data(), le.data(), dZ.data(), off.data(), B, H, M, D, 1.0f,
                        dQ.data(), dK.data(), dV.data());

  const long growth = peak_rss_bytes() - before;
  const long nm_bytes = N * M * long(sizeof(float));
  EXPECT_LT(growth, nm_bytes / 16) << "peak RSS grew by " << growth << " B; an N×M matrix is " << nm_bytes << " B";
  // The outputs were really computed (the ops did not return early).
  EXPECT_TRUE(std::isfinite(le[0]) && std::isfinite(ld[N - 1]) && std::isfinite(dQ[0]));
  EXPECT_NE(dV[N - 1], 0.0f);
  std::printf("mixer peak RSS growth: %.1f MiB (N×M fp32 would be %.1f MiB)\n", growth / 1048576.0,
              nm_bytes / 1048576.0);
}
