// cpu FLARE encode: Z[b,h] = softmax_N(s·Q[h]·K[b,h]ᵀ)·V[b,h], a reduction over the N points.
//
// Algorithm (the same split/combine as the CUDA kernel, kernels.md): per (mesh, head) the points are
// cut into tiles of kTile rows; threads take tiles (static schedule) and keep, for every latent m,
// an online-softmax partial: running max mx_m, running sum l_m = Σ e^(S − mx_m), and acc_m[D] =
// Σ e^(S − mx_m)·v. Per tile: S = (s·Q)·K_tᵀ [M, kTile] by GEMM, rescale the partial by
// e^(mx_old − mx_new), add exp(S − mx_new)·V_t by GEMM. The per-thread partials are then combined
// exactly, in thread order:  mx = max_t mx_t;  l = Σ_t l_t·e^(mx_t − mx);  Z = Σ_t acc_t·e^(mx_t − mx)/l,
// and lse = mx + log l is saved for backward.
// Memory: one [M, kTile] score tile and one [M, D] partial per thread: O(M·(kTile + D)), never N×M.
// Scores in the hundreds are fine: every exponent is ≤ 0 after the max subtraction.
//
// Backward, also per tile, from the saved Z and lse (P is recomputed, never stored):
//   P = e^(S − lse_m);  dS = P∘(dZ·V_tᵀ − rowdot_m),  rowdot_m = dZ_m·Z_m;
//   dQ += s·dS·K_t (per-thread partials);  dK_t += s·dSᵀ·Q;  dV_t += Pᵀ·dZ.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/ops.h"

namespace flare::kernels::cpu {

namespace {

constexpr std::int64_t kTile = 128;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct SoftmaxPartial {
  Eigen::VectorXf mx;  // [M] running max
  Eigen::VectorXf l;   // [M] running Σ e^(S − mx)
  RowMat acc;          // [M, D] running Σ e^(S − mx)·v
  void reset(int M, int D) {
    mx.setConstant(M, kNegInf);
    l.setZero(M);
    acc.setZero(M, D);
  }
};

}  // namespace

void flare_encode_fwd(const float* Q,                 // [H, M, D]
                      const float* K,                 // [ΣN, C]
                      const float* V,                 // [ΣN, C]
                      const std::int64_t* offsets,    // [B+1]
                      int B, int H, int M, int D, float scale,
                      float* Z,                       // [B, H, M, D]
                      float* lse) {                   // [B, H, M]
  const std::int64_t C = std::int64_t(H) * D;
  std::vector<SoftmaxPartial> parts(max_threads());
  for (int h = 0; h < H; ++h) {
    const RowMat Qs = scale * ConstMatMap(Q + std::int64_t(h) * M * D, M, D);
    for (int b = 0; b < B; ++b) {
      const std::int64_t n0 = offsets[b], nb = offsets[b + 1] - n0;
      const std::int64_t bh = std::int64_t(b) * H + h;
      MatMap Zbh(Z + bh * M * D, M, D);
      VecMap lse_bh(lse + bh * M, M);
      const std::int64_t nt_tiles = num_chunks(nb, kTile);
      const int nt = static_cast<int>(std::min<std::int64_t>(parts.size(), nt_tiles));
      if (nt == 0) {  // empty mesh: nothing to attend to
        Zbh.setZero();
        lse_bh.setConstant(kNegInf);
        continue;
      }
#pragma omp parallel num_threads(nt)
      {
        SoftmaxPartial& p = parts[omp_get_thread_num()];
        p.reset(M, D);
        RowMat S(M, kTile);
#pragma omp for schedule(static)
        for (std::int64_t t = 0; t < nt_tiles; ++t) {
          const std::int64_t r0 = n0 + t * kTile, rows = std::min(kTile, nb - t * kTile);
          const ConstStridedMap Kt(K + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstStridedMap Vt(V + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          auto St = S.leftCols(rows);
          St.noalias() = Qs * Kt.transpose();
          const Eigen::VectorXf mx_new = p.mx.cwiseMax(St.rowwise().maxCoeff());
          const Eigen::VectorXf corr = (p.mx - mx_new).array().exp();  // e^(−inf) = 0 at start
          St = (St.colwise() - mx_new).array().exp().matrix();
          p.l = p.l.cwiseProduct(corr) + St.rowwise().sum();
          p.acc = corr.asDiagonal() * p.acc;
          p.acc.noalias() += St * Vt;
          p.mx = mx_new;
        }
      }
      Eigen::VectorXf mx = parts[0].mx;
      for (int t = 1; t < nt; ++t) mx = mx.cwiseMax(parts[t].mx);
      Eigen::VectorXf l = Eigen::VectorXf::Zero(M);
      Zbh.setZero();
      for (int t = 0; t < nt; ++t) {
        // Every thread got at least one non-empty tile (nt ≤ tiles), so mx_t is finite.
        const Eigen::VectorXf w = (parts[t].mx - mx).array().exp();
        l += parts[t].l.cwiseProduct(w);
        Zbh += w.asDiagonal() * parts[t].acc;
      }
      Zbh = l.cwiseInverse().asDiagonal() * Zbh;
      lse_bh = mx + l.array().log().matrix();
    }
  }
}

void flare_encode_bwd(const float* Q,                 // [H, M, D]
                      const float* K,                 // [ΣN, C]
                      const float* V,                 // [ΣN, C]
                      const float* Z,                 // [B, H, M, D] saved by forward
                      const float* lse,               // [B, H, M] saved by forward
                      const float* dZ,                // [B, H, M, D]
                      const std::int64_t* offsets,    // [B+1]
                      int B, int H, int M, int D, float scale,
                      float* dQ,                      // [H, M, D] +=, or nullptr
                      float* dK,                      // [ΣN, C] +=, or nullptr
                      float* dV) {                    // [ΣN, C] +=, or nullptr
  if (!dQ && !dK && !dV) return;
  const std::int64_t C = std::int64_t(H) * D;
  std::vector<RowMat> pq(max_threads());
  for (int h = 0; h < H; ++h) {
    const ConstMatMap Qh(Q + std::int64_t(h) * M * D, M, D);
    const RowMat Qs = scale * Qh;
    for (int b = 0; b < B; ++b) {
      const std::int64_t n0 = offsets[b], nb = offsets[b + 1] - n0;
      const std::int64_t bh = std::int64_t(b) * H + h;
      const ConstMatMap Zbh(Z + bh * M * D, M, D), dZbh(dZ + bh * M * D, M, D);
      const ConstVecMap lse_bh(lse + bh * M, M);
      const Eigen::VectorXf rowdot = dZbh.cwiseProduct(Zbh).rowwise().sum();  // [M]
      const std::int64_t nt_tiles = num_chunks(nb, kTile);
      const int nt = static_cast<int>(std::min<std::int64_t>(pq.size(), nt_tiles));
      if (nt == 0) continue;
#pragma omp parallel num_threads(nt)
      {
        RowMat& gq = pq[omp_get_thread_num()];
        gq.setZero(M, D);
        RowMat P(M, kTile), dS(M, kTile);
#pragma omp for schedule(static)
        for (std::int64_t t = 0; t < nt_tiles; ++t) {
          const std::int64_t r0 = n0 + t * kTile, rows = std::min(kTile, nb - t * kTile);
          const ConstStridedMap Kt(K + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          const ConstStridedMap Vt(V + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C));
          auto Pt = P.leftCols(rows);
          auto dSt = dS.leftCols(rows);
          Pt.noalias() = Qs * Kt.transpose();
          Pt = (Pt.colwise() - lse_bh).array().exp().matrix();
          dSt.noalias() = dZbh * Vt.transpose();
          dSt = Pt.cwiseProduct(dSt.colwise() - rowdot);
          if (dQ) gq.noalias() += dSt * Kt;
          if (dK) StridedMap(dK + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C)).noalias() +=
                      dSt.transpose() * Qs;
          if (dV) StridedMap(dV + r0 * C + h * D, rows, D, Eigen::OuterStride<>(C)).noalias() +=
                      Pt.transpose() * dZbh;
        }
      }
      if (dQ) {
        MatMap dQh(dQ + std::int64_t(h) * M * D, M, D);
        for (int t = 0; t < nt; ++t) dQh += scale * pq[t];
      }
    }
  }
}

}  // namespace flare::kernels::cpu
