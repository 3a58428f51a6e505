#include "am/block_csr.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace flare::am {

// Below this many rows a CG step is a few microseconds: thread start-up and barriers would cost
// more than they save.
constexpr std::int64_t kParallelRows = 4096;

BlockCsr::BlockCsr(std::int64_t nodes, const std::vector<std::array<std::int64_t, 8>>& elements) {
  // Node -> elements (CSR), then each node's neighbours as the sorted union of its elements' nodes.
  std::vector<std::int64_t> start(nodes + 1, 0), incident;
  for (const auto& e : elements)
    for (std::int64_t n : e) ++start[n + 1];
  for (std::int64_t i = 0; i < nodes; ++i) start[i + 1] += start[i];
  incident.resize(start[nodes]);
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
  for (std::int64_t e = 0; e < std::int64_t(elements.size()); ++e)
    for (std::int64_t n : elements[e]) incident[fill[n]++] = e;

  std::vector<std::vector<std::int64_t>> neighbours(nodes);
#pragma omp parallel for schedule(dynamic, 1024)
  for (std::int64_t i = 0; i < nodes; ++i) {
    auto& nb = neighbours[i];
    for (std::int64_t p = start[i]; p < start[i + 1]; ++p)
      nb.insert(nb.end(), elements[incident[p]].begin(), elements[incident[p]].end());
    std::sort(nb.begin(), nb.end());
    nb.erase(std::unique(nb.begin(), nb.end()), nb.end());
  }
  m_row.assign(nodes + 1, 0);
  for (std::int64_t i = 0; i < nodes; ++i) m_row[i + 1] = m_row[i] + std::int64_t(neighbours[i].size());
  m_col.resize(m_row[nodes]);
  for (std::int64_t i = 0; i < nodes; ++i)
    std::copy(neighbours[i].begin(), neighbours[i].end(), m_col.begin() + m_row[i]);
  m_val.assign(m_col.size() * 9, 0.0);
}

std::int64_t BlockCsr::slot(std::int64_t i, std::int64_t j) const {
  auto first = m_col.begin() + m_row[i], last = m_col.begin() + m_row[i + 1];
  auto it = std::lower_bound(first, last, j);
  FLARE_CHECK(it != last && *it == j, "node pair (", i, ", ", j, ") is not in the pattern");
  return it - m_col.begin();
}

void BlockCsr::add_element(const std::array<std::int64_t, 8>& element, const HexMatrix& ke) {
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b) {
      double* block = m_val.data() + 9 * slot(element[a], element[b]);
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) block[3 * r + c] += ke(3 * a + r, 3 * b + c);
    }
}

void BlockCsr::multiply(const std::vector<std::int64_t>& rows, const double* x, double* y) const {
  const std::int64_t n = std::int64_t(rows.size());
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t i = rows[r];
    double y0 = 0, y1 = 0, y2 = 0;
    for (std::int64_t p = m_row[i]; p < m_row[i + 1]; ++p) {
      const double* a = m_val.data() + 9 * p;
      const double* xj = x + 3 * m_col[p];
      y0 += a[0] * xj[0] + a[1] * xj[1] + a[2] * xj[2];
      y1 += a[3] * xj[0] + a[4] * xj[1] + a[5] * xj[2];
      y2 += a[6] * xj[0] + a[7] * xj[1] + a[8] * xj[2];
    }
    y[3 * i] = y0;
    y[3 * i + 1] = y1;
    y[3 * i + 2] = y2;
  }
}

Eigen::Matrix3d BlockCsr::diagonal(std::int64_t i) const {
  return Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(m_val.data() + 9 * slot(i, i));
}

std::vector<Eigen::Matrix3d> block_jacobi_inverse(const BlockCsr& k, const std::vector<std::int64_t>& rows,
                                                  const std::vector<double>& free) {
  // Partly constrained nodes (the release step's 3-2-1 support) invert the free sub-block only.
  const std::int64_t n = std::int64_t(rows.size());
  std::vector<Eigen::Matrix3d> inv(n);
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t i = rows[r];
    Eigen::Matrix3d d = k.diagonal(i);
    for (int c = 0; c < 3; ++c)
      if (free[3 * i + c] == 0) {
        d.row(c).setZero();
        d.col(c).setZero();
        d(c, c) = 1;
      }
    inv[r] = d.inverse();
    for (int c = 0; c < 3; ++c)
      if (free[3 * i + c] == 0) {
        inv[r].row(c).setZero();
        inv[r].col(c).setZero();
      }
  }
  return inv;
}

CgResult solve_pcg(const BlockCsr& k, const std::vector<std::int64_t>& rows,
                   const std::vector<double>& free, const std::vector<double>& b,
                   std::vector<double>& x, double rtol, int max_iterations,
                   const Preconditioner& custom) {
  const std::int64_t n = std::int64_t(rows.size());
  const std::int64_t dofs = 3 * k.nodes();
  FLARE_CHECK(std::int64_t(b.size()) == dofs && std::int64_t(x.size()) == dofs &&
                  std::int64_t(free.size()) == dofs,
              "solve_pcg: vectors must have 3 * nodes entries");

  const std::vector<Eigen::Matrix3d> inv =
      custom ? std::vector<Eigen::Matrix3d>{} : block_jacobi_inverse(k, rows, free);

  std::vector<double> res(dofs, 0.0), z(dofs, 0.0), p(dofs, 0.0), q(dofs, 0.0);
  for (std::int64_t r = 0; r < n; ++r)
    for (int c = 0; c < 3; ++c) x[3 * rows[r] + c] *= free[3 * rows[r] + c];

  auto dot = [&](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t d = 3 * rows[r];
      s += u[d] * v[d] + u[d + 1] * v[d + 1] + u[d + 2] * v[d + 2];
    }
    return s;
  };
  auto precondition = [&]() {  // z = M^-1 res
    if (custom) return custom(res, z);
#pragma omp parallel for schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t d = 3 * rows[r];
      Eigen::Map<Eigen::Vector3d>(z.data() + d) = inv[r] * Eigen::Map<const Eigen::Vector3d>(res.data() + d);
    }
  };

  k.multiply(rows, x.data(), q.data());
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (std::int64_t r = 0; r < n; ++r)
    for (int c = 0; c < 3; ++c) {
      const std::int64_t d = 3 * rows[r] + c;
      res[d] = free[d] * (b[d] - q[d]);
    }
  double b_norm = 0;
  for (std::int64_t r = 0; r < n; ++r)
    for (int c = 0; c < 3; ++c) {
      const std::int64_t d = 3 * rows[r] + c;
      b_norm += free[d] * b[d] * b[d];
    }
  b_norm = std::sqrt(b_norm);
  CgResult result;
  if (b_norm == 0) {
    for (std::int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 3; ++c) x[3 * rows[r] + c] = 0;
    return result;
  }
  double r_norm = std::sqrt(dot(res, res));
  precondition();
  p = z;
  double rz = dot(res, z);
  while (r_norm > rtol * b_norm) {
    FLARE_CHECK(result.iterations < max_iterations, "CG did not converge in ", max_iterations,
                " iterations (relative residual ", r_norm / b_norm, ")");
    k.multiply(rows, p.data(), q.data());
#pragma omp parallel for schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 3; ++c) q[3 * rows[r] + c] *= free[3 * rows[r] + c];
    const double alpha = rz / dot(p, q);
#pragma omp parallel for schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 3; ++c) {
        const std::int64_t d = 3 * rows[r] + c;
        x[d] += alpha * p[d];
        res[d] -= alpha * q[d];
      }
    precondition();
    const double rz_new = dot(res, z);
    const double beta = rz_new / rz;
    rz = rz_new;
#pragma omp parallel for schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 3; ++c) {
        const std::int64_t d = 3 * rows[r] + c;
        p[d] = z[d] + beta * p[d];
      }
    r_norm = std::sqrt(dot(res, res));
    ++result.iterations;
  }
  result.relative_residual = r_norm / b_norm;
  return result;
}

}  // namespace flare::am
