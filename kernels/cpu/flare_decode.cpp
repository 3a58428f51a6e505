// cpu FLARE decode: Y[n,h] = softmax_M(s·K[n,h]·Q[h]ᵀ)·Z[b,h], independent per point.
//
// Per mesh, threads take tiles of kTile points; per tile and head: S = K_t·(s·Q)ᵀ [kTile, M] by
// GEMM, a max-subtracted softmax along each row (M values), Y_t = P·Z[b,h] by GEMM; lse per point is
// saved for backward. Memory: one [kTile, M] tile per thread, never N×M.
//
// Backward from the saved Y and lse, per tile (P recomputed):
//   P = e^(S − lse_n);  dS = P∘(dY_t·Zᵀ − rowdot_n),  rowdot_n = dY_n·Y_n;
//   dK_t += s·dS·Q;  dQ += s·dSᵀ·K_t and dZ[b] += Pᵀ·dY_t (reductions over N: per-thread partials).
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

namespace {
constexpr std::int64_t kTile = 128;
}

void flare_decode_fwd(const float* Q,                 // [H, M, D]
                      const float* K,                 // [ΣN, C]
                      const float* Z,                 // [B, H, M, D]
                      const std::int64_t* offsets,    // [B+1]
                      int B, int H, int M, int D, float scale,
                      float* Y,                       // [ΣN, C]
                      float* lse) {                   // [ΣN, H]
  const std::int64_t C = std::int64_t(H) * D;
  const RowMat Qs = scale * ConstMatMap(Q, std::int64_t(H) * M, D);  // [H·M, D]
  for (int b = 0; b < B; ++b) {
    const std::int64_t n0 = offsets[b], nb = offsets[b + 1] - n0;
    const std::int64_t nt_tiles = num_chunks(nb, kTile);
#pragma omp parallel if (nt_tiles > 1)
    {
      RowMat S(kTile, M);
#pragma omp for schedule(static)
      for (std::int64_t t = 0; t < nt_tiles; ++t) {
        const std::int64_t r0 = n0 + t * kTile, rows = std::min(kTile, nb - t * kTile);
        auto St = S.topRows(rows);
        for (int h = 0; h < H; ++h) {
          const ConstStridedMap Kt(K + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstMatMap Zbh(Z + (std::int64_t(b) * H + h) * M * D, M, D);
          St.noalias() = Kt * Qs.middleRows(std::int64_t(h) * M, M).transpose();
          const Eigen::VectorXf mx = St.rowwise().maxCoeff();
          St = (St.colwise() - mx).array().exp().matrix();
          const Eigen::VectorXf l = St.rowwise().sum();
          StridedMap Yt(Y + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          Yt.noalias() = l.cwiseInverse().asDiagonal() * (St * Zbh);
          for (std::int64_t r = 0; r < rows; ++r) lse[(r0 + r) * H + h] = mx[r] + std::log(l[r]);
        }
      }
    }
  }
}

void flare_decode_bwd(const float* Q,                 // [H, M, D]
                      const float* K,                 // [ΣN, C]
                      const float* Z,                 // [B, H, M, D]
                      const float* Y,                 // [ΣN, C] saved by forward
                      const float* lse,               // [ΣN, H] saved by forward
                      const float* dY,                // [ΣN, C]
                      const std::int64_t* offsets,    // [B+1]
                      int B, int H, int M, int D, float scale,
                      float* dQ,                      // [H, M, D] +=, or nullptr
                      float* dK,                      // [ΣN, C] +=, or nullptr
                      float* dZ) {                    // [B, H, M, D] +=, or nullptr
  if (!dQ && !dK && !dZ) return;
  const std::int64_t C = std::int64_t(H) * D;
  const RowMat Qs = scale * ConstMatMap(Q, std::int64_t(H) * M, D);  // [H·M, D]
  // Per-thread partials of the reductions over N, [H·M, D] each.
  std::vector<RowMat> pq(max_threads()), pz(max_threads());
  for (int b = 0; b < B; ++b) {
    const std::int64_t n0 = offsets[b], nb = offsets[b + 1] - n0;
    const std::int64_t nt_tiles = num_chunks(nb, kTile);
    const int nt = static_cast<int>(std::min<std::int64_t>(pq.size(), nt_tiles));
    if (nt == 0) continue;
#pragma omp parallel num_threads(nt)
    {
      const int tid = omp_get_thread_num();
      pq[tid].setZero(std::int64_t(H) * M, D);
      pz[tid].setZero(std::int64_t(H) * M, D);
      RowMat P(kTile, M), dS(kTile, M);
#pragma omp for schedule(static)
      for (std::int64_t t = 0; t < nt_tiles; ++t) {
        const std::int64_t r0 = n0 + t * kTile, rows = std::min(kTile, nb - t * kTile);
        auto Pt = P.topRows(rows);
        auto dSt = dS.topRows(rows);
        for (int h = 0; h < H; ++h) {
          const ConstStridedMap Kt(K + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstStridedMap Yt(Y + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstStridedMap dYt(dY + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstMatMap Zbh(Z + (std::int64_t(b) * H + h) * M * D, M, D);
          const auto Qsh = Qs.middleRows(std::int64_t(h) * M, M);
          const Eigen::Map<const Eigen::VectorXf, 0, Eigen::InnerStride<>> lse_t(
              lse + r0 * H + h, rows, Eigen::InnerStride<>(H));
          Pt.noalias() = Kt * Qsh.transpose();
          Pt = (Pt.colwise() - lse_t).array().exp().matrix();
          const Eigen::VectorXf rowdot = dYt.cwiseProduct(Yt).rowwise().sum();
          dSt.noalias() = dYt * Zbh.transpose();
          dSt = Pt.cwiseProduct(dSt.colwise() - rowdot);
          if (dK) StridedMap(dK + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C)).noalias() +=
                      dSt * Qsh;
          if (dQ) pq[tid].middleRows(std::int64_t(h) * M, M).noalias() += dSt.transpose() * Kt;
          if (dZ) pz[tid].middleRows(std::int64_t(h) * M, M).noalias() += Pt.transpose() * dYt;
        }
      }
    }
    for (int t = 0; t < nt; ++t) {
      if (dQ) MatMap(dQ, std::int64_t(H) * M, D) += scale * pq[t];
      if (dZ) MatMap(dZ + std::int64_t(b) * H * M * D, std::int64_t(H) * M, D) += pz[t];
    }
  }
}

}  // namespace flare::kernels::cpu
