// Kernel lab for the cpu tier (llm.c dev/ style, not a ctest entry): times the ops that dominate a
// FLARE step at the paper defaults (C = 64, H = 8, D = 8, M = 64) and prints a markdown table,
// mean ± σ of wall time over `reps` runs after one warm-up run, and the mean process CPU time (all
// threads): on a shared machine the CPU time of a single-threaded run is the steadier number.
//
//   build/tests/kernels/bench_kernels_cpu [N=50000] [reps=20]
//   OMP_NUM_THREADS=1 build/tests/kernels/bench_kernels_cpu 50000 20
//
// FLOP formulas (multiply-add = 2 FLOP; elementwise ops print 0 GFLOP/s):
//   linear fwd: 2·N·in·out;  linear bwd: 2 GEMMs of the same size (dx and dW).
//   mixer fwd (encode + decode): 4 GEMMs of 2·N·M·D per head (S for encode, P·V, S for decode,
//   P·Z). mixer bwd: 10 GEMMs of 2·N·M·D per head (S recomputed, dP, dS·K, dSᵀ·Q, Pᵀ·dX, for each
//   stage).
// "linear fwd (Eigen threads)" is the alternative the cpu tier did not take: one Eigen GEMM over
// all N rows with Eigen's own OpenMP threading, for comparison with the chunked parallel loop.
//
// Measured 2026-11-23 on the shared 2-vCPU AMD EPYC dev box, OMP_NUM_THREADS=1, N = 50000, CPU ms:
//   default flags (SSE2):  linear fwd 11.4, linear bwd 23.7, gelu fwd 4.7, mixer fwd 187, mixer bwd
//   273 -march=native (AVX-512, separate build dir): linear fwd 3.6, linear bwd 7.6, gelu fwd 1.5,
//                                                 mixer fwd 47, mixer bwd 100
// The mixer at D = 8 is bound by its N·M·H exponentials per stage, not by its GEMMs.
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/ops.h"
#include "tests/kernels/compare.h"

namespace cpu = flare::kernels::cpu;

namespace {

void bench(const std::string& name, double flop, int reps, const std::function<void()>& f) {
  f();
  std::vector<double> ms;
  const std::clock_t c0 = std::clock();
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu_ms = 1000.0 * double(std::clock() - c0) / CLOCKS_PER_SEC / reps;
  double mean = 0, var = 0;
  for (double t : ms) mean += t / reps;
  for (double t : ms) var += (t - mean) * (t - mean) / std::max(reps - 1, 1);
  std::printf("| %-28s | %8.3f ± %6.3f | %8.3f | %7.2f |\n", name.c_str(), mean, std::sqrt(var),
              cpu_ms, flop / (mean * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t N = argc > 1 ? std::atoll(argv[1]) : 50000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 20;
  const int C = 64, H = 8, D = 8, M = 64;
  std::printf("N = %lld, C = %d, H = %d, D = %d, M = %d, OpenMP threads = %d\n\n", (long long)N, C,
              H, D, M, cpu::max_threads());
  std::printf("| op | wall ms | CPU ms | GFLOP/s (wall) |\n|---|---|---|---|\n");

  const auto x = flare::test::randn(N * C, 1), W = flare::test::randn(C * C, 2, 0.1),
             b = flare::test::randn(C, 3);
  std::vector<float> y(N * C), dx(N * C), dW(C * C), db(C);
  const double lin = 2.0 * N * C * C;
  bench("linear fwd 64x64", lin, reps,
        [&] { cpu::linear_fwd(x.data(), W.data(), b.data(), y.data(), N, C, C); });
  bench("linear fwd (Eigen threads)", lin, reps, [&] {
    cpu::MatMap Y(y.data(), N, C);
    Y.noalias() = cpu::ConstMatMap(x.data(), N, C) * cpu::ConstMatMap(W.data(), C, C).transpose();
    Y.rowwise() += cpu::ConstRowVecMap(b.data(), C);
  });
  bench("linear bwd 64x64", 2 * lin, reps, [&] {
    cpu::linear_bwd(x.data(), W.data(), y.data(), dx.data(), dW.data(), db.data(), N, C, C);
  });

  bench("gelu fwd N x 64", 0, reps, [&] { cpu::gelu_fwd(x.data(), y.data(), N * C); });
  bench("gelu bwd N x 64", 0, reps, [&] { cpu::gelu_bwd(x.data(), y.data(), dx.data(), N * C); });
  std::vector<float> mu(N), rs(N), g1(C, 1.0f), b0(C, 0.0f);
  bench("layernorm fwd N x 64", 0, reps, [&] {
    cpu::layernorm_fwd(x.data(), g1.data(), b0.data(), y.data(), mu.data(), rs.data(), N, C, 1e-5f);
  });

  const std::vector<std::int64_t> off = {0, N};
  const auto Q = flare::test::randn(H * M * D, 4, 0.3), K = flare::test::randn(N * C, 5, 0.3),
             V = flare::test::randn(N * C, 6);
  std::vector<float> Z(H * M * D), le(H * M), Y(N * C), ld(N * H), dQ(Q.size()), dK(N * C),
      dV(N * C), dZ(Z.size());
  const auto dY = flare::test::randn(N * C, 7), dZin = flare::test::randn(Z.size(), 8);
  const double mix = 2.0 * N * M * D * H;
  bench("mixer fwd (encode+decode)", 4 * mix, reps, [&] {
    cpu::flare_encode_fwd(Q.data(), K.data(), V.data(), off.data(), 1, H, M, D, 1.0f, Z.data(),
                          le.data());
    cpu::flare_decode_fwd(Q.data(), K.data(), Z.data(), off.data(), 1, H, M, D, 1.0f, Y.data(),
                          ld.data());
  });
  bench("mixer encode fwd", 2 * mix, reps, [&] {
    cpu::flare_encode_fwd(Q.data(), K.data(), V.data(), off.data(), 1, H, M, D, 1.0f, Z.data(),
                          le.data());
  });
  bench("mixer decode fwd", 2 * mix, reps, [&] {
    cpu::flare_decode_fwd(Q.data(), K.data(), Z.data(), off.data(), 1, H, M, D, 1.0f, Y.data(),
                          ld.data());
  });
  bench("mixer bwd (decode+encode)", 10 * mix, reps, [&] {
    cpu::flare_decode_bwd(Q.data(), K.data(), Z.data(), Y.data(), ld.data(), dY.data(), off.data(),
                          1, H, M, D, 1.0f, dQ.data(), dK.data(), dZ.data());
    cpu::flare_encode_bwd(Q.data(), K.data(), V.data(), Z.data(), le.data(), dZin.data(),
                          off.data(), 1, H, M, D, 1.0f, dQ.data(), dK.data(), dV.data());
  });
  return 0;
}
