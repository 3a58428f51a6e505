#include "am/multigrid.h"

#include <cmath>
#include <unordered_map>

#include "common/error.h"

namespace flare::am {

namespace {

// Corner offsets of a cell in VTK hexahedron order.
constexpr int kCorner[8][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0},
                               {0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1}};
// Stop coarsening at this many nodes: the dense Cholesky of <= 450 DOFs, refactored per group,
// costs about a millisecond.
constexpr std::int64_t kCoarsestNodes = 150;
constexpr std::int64_t kParallelRows = 4096;
constexpr int kSweeps = 2;

std::int64_t pack(const Eigen::Vector3i& c) {
  return (std::int64_t(c[0] + 1) << 42) | (std::int64_t(c[1] + 1) << 21) | std::int64_t(c[2] + 1);
}

Eigen::Vector3i half_floor(const Eigen::Vector3i& c) {
  return Eigen::Vector3i(c[0] >> 1, c[1] >> 1, c[2] >> 1);  // arithmetic shift: floor for >= 0
}

}  // namespace

std::unique_ptr<VoxelMultigrid> VoxelMultigrid::build(const mesh::Mesh& part,
                                                      const std::vector<Element>& elements,
                                                      const BlockCsr& fine) {
  if (elements.empty()) return nullptr;
  HexNodes x;
  Eigen::Vector3d h, size;
  for (std::size_t e = 0; e < elements.size(); ++e) {
    for (int a = 0; a < 8; ++a) x.row(a) = part.points.row(elements[e][a]);
    if (!hex8_is_box(x, size)) return nullptr;
    if (e == 0) h = size;
    if ((size - h).norm() > 1e-9 * h.norm()) return nullptr;
  }
  const std::int64_t n = part.num_points();
  Eigen::Vector3d origin = Eigen::Vector3d::Constant(INFINITY);
  std::vector<char> used(n, 0);
  for (const Element& e : elements)
    for (std::int64_t v : e) used[v] = 1;
  for (std::int64_t i = 0; i < n; ++i)
    if (used[i]) origin = origin.cwiseMin(Eigen::Vector3d(part.points.row(i)));

  std::unique_ptr<VoxelMultigrid> mg(new VoxelMultigrid());
  Level l0;
  l0.coord.assign(n, Eigen::Vector3i::Constant(-1));
  for (std::int64_t i = 0; i < n; ++i) {
    if (!used[i]) continue;
    const Eigen::Vector3d t = (Eigen::Vector3d(part.points.row(i)) - origin).cwiseQuotient(h);
    const Eigen::Vector3d r = t.array().round();
    if ((t - r).cwiseAbs().maxCoeff() > 1e-6 || r.maxCoeff() >= double(1 << 20)) return nullptr;
    l0.coord[i] = r.cast<int>();
  }
  l0.a = &fine;
  mg->m_levels.push_back(std::move(l0));
  for (const Element& e : elements) mg->m_element_base.push_back(mg->m_levels[0].coord[e[0]]);

  // Coarse levels: cells of doubled size holding the previous level's cells.
  std::vector<Eigen::Vector3i> bases = mg->m_element_base;  // previous level's cell bases
  std::vector<std::int64_t>* child_to_cell = &mg->m_element_cell;
  while (mg->m_levels.back().nodes() > kCoarsestNodes && mg->m_levels.size() < 12) {
    Level lv;
    std::unordered_map<std::int64_t, std::int64_t> cell_id, node_id;
    std::vector<Eigen::Vector3i> cells;
    child_to_cell->resize(bases.size());
    for (std::size_t c = 0; c < bases.size(); ++c) {
      const Eigen::Vector3i b = half_floor(bases[c]);
      auto [it, added] = cell_id.try_emplace(pack(b), std::int64_t(cells.size()));
      if (added) cells.push_back(b);
      (*child_to_cell)[c] = it->second;
    }
    for (const Eigen::Vector3i& b : cells) {
      Element el;
      for (int a = 0; a < 8; ++a) {
        const Eigen::Vector3i p = b + Eigen::Vector3i(kCorner[a][0], kCorner[a][1], kCorner[a][2]);
        auto [it, added] = node_id.try_emplace(pack(p), std::int64_t(lv.coord.size()));
        if (added) lv.coord.push_back(p);
        el[a] = it->second;
      }
      lv.elements.push_back(el);
    }
    const Level& prev = mg->m_levels.back();
    if (double(lv.coord.size()) > 0.7 * double(prev.nodes())) break;  // coarsening stalled
    // Transfer prev -> lv: per dimension an even coordinate has one parent, an odd one two.
    lv.own = std::make_unique<BlockCsr>(std::int64_t(lv.coord.size()), lv.elements);
    lv.a = lv.own.get();
    Level& p = mg->m_levels.back();
    p.up_start.assign(1, 0);
    for (std::int64_t i = 0; i < p.nodes(); ++i) {
      const Eigen::Vector3i c = p.coord[i];
      if (c[0] >= 0) {
        for (int dz = 0; dz < 2; ++dz)
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
              const int d[3] = {dx, dy, dz};
              double w = 1;
              Eigen::Vector3i q;
              bool skip = false;
              for (int k = 0; k < 3; ++k) {
                if (c[k] % 2 == 0) {
                  skip |= d[k] == 1;
                  q[k] = c[k] / 2;
                } else {
                  w *= 0.5;
                  q[k] = (c[k] + (d[k] ? 1 : -1)) / 2;
                }
              }
              if (skip) continue;
              auto it = node_id.find(pack(q));
              FLARE_CHECK(it != node_id.end(), "multigrid: missing parent node");
              p.up_node.push_back(it->second);
              p.up_weight.push_back(w);
            }
      }
      p.up_start.push_back(std::int64_t(p.up_node.size()));
    }
    // Transpose for the restriction (a gather per coarse node, so it parallelises).
    const std::int64_t nc = std::int64_t(lv.coord.size());
    p.down_start.assign(nc + 1, 0);
    for (std::int64_t q : p.up_node) ++p.down_start[q + 1];
    for (std::int64_t i = 0; i < nc; ++i) p.down_start[i + 1] += p.down_start[i];
    p.down_node.resize(p.up_node.size());
    p.down_weight.resize(p.up_node.size());
    std::vector<std::int64_t> fill(p.down_start.begin(), p.down_start.end() - 1);
    for (std::int64_t i = 0; i < p.nodes(); ++i)
      for (std::int64_t k = p.up_start[i]; k < p.up_start[i + 1]; ++k) {
        const std::int64_t slot = fill[p.up_node[k]]++;
        p.down_node[slot] = i;
        p.down_weight[slot] = p.up_weight[k];
      }
    mg->m_cell_base.push_back(cells);
    mg->m_cell_active.emplace_back(cells.size(), 0);
    mg->m_levels.push_back(std::move(lv));
    bases = cells;
    mg->m_cell_parent.emplace_back();
    child_to_cell = &mg->m_cell_parent.back();
  }
  if (!mg->m_cell_parent.empty()) mg->m_cell_parent.pop_back();  // the coarsest has no parent
  // Coarsening stalled right away: a one-level "multigrid" is just block-Jacobi; let CG use that.
  if (mg->m_levels.size() < 2) return nullptr;

  for (int o = 0; o < 8; ++o) {
    // Child cell at offset o inside its parent: child corner a sits at (o + s_a) / 2 in the
    // parent's unit cell, weighted trilinearly onto parent corner b.
    HexMatrix w = HexMatrix::Zero();
    for (int a = 0; a < 8; ++a)
      for (int b = 0; b < 8; ++b) {
        double wt = 1;
        for (int k = 0; k < 3; ++k) {
          const double t = 0.5 * (((o >> k) & 1) + kCorner[a][k]);
          wt *= kCorner[b][k] ? t : 1 - t;
        }
        for (int c = 0; c < 3; ++c) w(3 * a + c, 3 * b + c) = wt;
      }
    mg->m_w[o] = w;
  }
  for (Level& lv : mg->m_levels) {
    lv.active.assign(lv.nodes(), 0);
    lv.free.assign(3 * lv.nodes(), 0.0);
    lv.x.assign(3 * lv.nodes(), 0.0);
    lv.b.assign(3 * lv.nodes(), 0.0);
    lv.r.assign(3 * lv.nodes(), 0.0);
  }
  return mg;
}

void VoxelMultigrid::add_elements(const std::vector<std::int64_t>& ids, const HexMatrix& ke) {
  // Level by level: the group's change to each touched cell, pushed to its parent cell.
  auto offset = [](const Eigen::Vector3i& base) {
    return (base[0] & 1) | ((base[1] & 1) << 1) | ((base[2] & 1) << 2);
  };
  std::unordered_map<std::int64_t, HexMatrix> delta, next;
  for (std::int64_t e : ids) {
    const HexMatrix c = m_w[offset(m_element_base[e])].transpose() * ke * m_w[offset(m_element_base[e])];
    auto [it, added] = delta.try_emplace(m_element_cell[e], c);
    if (!added) it->second += c;
  }
  for (std::size_t l = 1; l < m_levels.size(); ++l) {
    Level& lv = m_levels[l];
    std::vector<char>& cell_active = m_cell_active[l - 1];
    next.clear();
    for (const auto& [cell, m] : delta) {
      lv.own->add_element(lv.elements[cell], m);
      if (!cell_active[cell]) {
        cell_active[cell] = 1;
        for (std::int64_t v : lv.elements[cell])
          if (!lv.active[v]) {
            lv.active[v] = 1;
            lv.rows.push_back(v);
          }
      }
      if (l + 1 < m_levels.size()) {
        const HexMatrix& w = m_w[offset(m_cell_base[l - 1][cell])];
        const HexMatrix c = w.transpose() * m * w;
        auto [it, added] = next.try_emplace(m_cell_parent[l - 1][cell], c);
        if (!added) it->second += c;
      }
    }
    std::swap(delta, next);
  }
}

void VoxelMultigrid::update(const std::vector<std::int64_t>& fine_rows,
                            const std::vector<double>& fine_free) {
  Level& l0 = m_levels[0];
  l0.rows = fine_rows;
  l0.free = fine_free;
  for (std::size_t l = 0; l < m_levels.size(); ++l) {
    Level& lv = m_levels[l];
    if (l > 0) {
      // A coarse DOF is fixed when a fixed fine DOF interpolates from it: for the plate this is
      // exactly P^T A P of the constrained problem.
      const Level& f = m_levels[l - 1];
      std::fill(lv.free.begin(), lv.free.end(), 0.0);
      for (std::int64_t v : lv.rows)
        for (int c = 0; c < 3; ++c) lv.free[3 * v + c] = 1.0;
      for (std::int64_t i : f.rows)
        for (int c = 0; c < 3; ++c)
          if (f.free[3 * i + c] == 0)
            for (std::int64_t k = f.up_start[i]; k < f.up_start[i + 1]; ++k)
              lv.free[3 * f.up_node[k] + c] = 0;
    }
    lv.inv_diag = block_jacobi_inverse(*lv.a, lv.rows, lv.free);
    if (l + 1 < m_levels.size()) lv.omega = 4.0 / (3.0 * estimate_lambda_max(lv));
  }

  // Coarsest level: dense Cholesky on its free DOFs.
  Level& c = m_levels.back();
  std::vector<std::int64_t> dense(3 * c.nodes(), -1);
  m_coarse_dof.clear();
  for (std::int64_t v : c.rows)
    for (int k = 0; k < 3; ++k)
      if (c.free[3 * v + k] != 0) {
        dense[3 * v + k] = std::int64_t(m_coarse_dof.size());
        m_coarse_dof.push_back(3 * v + k);
      }
  const std::int64_t m = std::int64_t(m_coarse_dof.size());
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(m, m);
  for (std::int64_t v : c.rows)
    for (std::int64_t p = c.a->row_begin(v); p < c.a->row_end(v); ++p)
      for (int r = 0; r < 3; ++r)
        for (int k = 0; k < 3; ++k) {
          const std::int64_t i = dense[3 * v + r], j = dense[3 * c.a->col(p) + k];
          if (i >= 0 && j >= 0) a(i, j) = c.a->block(p)[3 * r + k];
        }
  m_coarse_llt.compute(a);
  if (m_coarse_llt.info() != Eigen::Success && m > 0) {
    // Coarse constraints that no longer pin every rigid mode (release on a tiny footprint):
    // a small shift keeps the preconditioner SPD; CG still converges on the true operator.
    a.diagonal().array() += 1e-8 * a.diagonal().mean();
    m_coarse_llt.compute(a);
    FLARE_CHECK(m_coarse_llt.info() == Eigen::Success, "multigrid: coarsest operator is not SPD");
  }
}

double VoxelMultigrid::estimate_lambda_max(Level& lv) {
  // Power iteration on D^-1 A (free DOFs), from a fixed pseudo-random start.
  std::vector<double>& v = lv.x;
  std::vector<double>& w = lv.r;
  for (std::int64_t i : lv.rows)
    for (int c = 0; c < 3; ++c) v[3 * i + c] = lv.free[3 * i + c] * (1.0 + 0.5 * std::sin(7.0 * double(3 * i + c)));
  double lambda = 1;
  for (int it = 0; it < 12; ++it) {
    lv.a->multiply(lv.rows, v.data(), w.data());
    double wn = 0, vn = 0;
    for (std::size_t r = 0; r < lv.rows.size(); ++r) {
      const std::int64_t d = 3 * lv.rows[r];
      const Eigen::Vector3d z = lv.inv_diag[r] * Eigen::Map<const Eigen::Vector3d>(w.data() + d);
      Eigen::Map<Eigen::Vector3d>(w.data() + d) = z;
      wn += z.squaredNorm();
      vn += Eigen::Map<const Eigen::Vector3d>(v.data() + d).squaredNorm();
    }
    if (wn == 0 || vn == 0) break;
    lambda = std::sqrt(wn / vn);
    const double scale = 1 / std::sqrt(wn);
    for (std::int64_t i : lv.rows)
      for (int c = 0; c < 3; ++c) v[3 * i + c] = w[3 * i + c] * scale;
  }
  for (std::int64_t i : lv.rows)
    for (int c = 0; c < 3; ++c) v[3 * i + c] = w[3 * i + c] = 0;
  // Power iteration approaches lambda_max from below; a margin keeps the smoother stable.
  return 1.1 * lambda;
}

void VoxelMultigrid::residual(Level& lv) {  // r = b - A x, masked
  lv.a->multiply(lv.rows, lv.x.data(), lv.r.data());
  const std::int64_t n = std::int64_t(lv.rows.size());
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (std::int64_t r = 0; r < n; ++r)
    for (int c = 0; c < 3; ++c) {
      const std::int64_t d = 3 * lv.rows[r] + c;
      lv.r[d] = lv.free[d] * (lv.b[d] - lv.r[d]);
    }
}

void VoxelMultigrid::smooth(Level& lv, int sweeps) {  // damped block-Jacobi
  const std::int64_t n = std::int64_t(lv.rows.size());
  for (int s = 0; s < sweeps; ++s) {
    residual(lv);
#pragma omp parallel for schedule(static) if (n > kParallelRows)
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t d = 3 * lv.rows[r];
      Eigen::Map<Eigen::Vector3d>(lv.x.data() + d) +=
          lv.omega * (lv.inv_diag[r] * Eigen::Map<const Eigen::Vector3d>(lv.r.data() + d));
    }
  }
}

void VoxelMultigrid::cycle(int l) {
  Level& lv = m_levels[l];
  for (std::int64_t i : lv.rows)
    for (int c = 0; c < 3; ++c) lv.x[3 * i + c] = 0;
  if (l + 1 == int(m_levels.size())) {
    Eigen::VectorXd rhs(m_coarse_dof.size());
    for (std::size_t k = 0; k < m_coarse_dof.size(); ++k) rhs[k] = lv.b[m_coarse_dof[k]];
    const Eigen::VectorXd sol = m_coarse_llt.solve(rhs);
    for (std::size_t k = 0; k < m_coarse_dof.size(); ++k) lv.x[m_coarse_dof[k]] = sol[k];
    return;
  }
  smooth(lv, kSweeps);
  residual(lv);
  Level& cv = m_levels[l + 1];
  const std::int64_t nc = std::int64_t(cv.rows.size());
#pragma omp parallel for schedule(static) if (nc > kParallelRows)
  for (std::int64_t r = 0; r < nc; ++r) {
    const std::int64_t q = cv.rows[r];
    Eigen::Vector3d s = Eigen::Vector3d::Zero();
    for (std::int64_t k = lv.down_start[q]; k < lv.down_start[q + 1]; ++k)
      s += lv.down_weight[k] * Eigen::Map<const Eigen::Vector3d>(lv.r.data() + 3 * lv.down_node[k]);
    for (int c = 0; c < 3; ++c) cv.b[3 * q + c] = cv.free[3 * q + c] * s[c];
  }
  cycle(l + 1);
  const std::int64_t n = std::int64_t(lv.rows.size());
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t i = lv.rows[r];
    Eigen::Vector3d s = Eigen::Vector3d::Zero();
    for (std::int64_t k = lv.up_start[i]; k < lv.up_start[i + 1]; ++k)
      s += lv.up_weight[k] * Eigen::Map<const Eigen::Vector3d>(cv.x.data() + 3 * lv.up_node[k]);
    for (int c = 0; c < 3; ++c) lv.x[3 * i + c] += lv.free[3 * i + c] * s[c];
  }
  smooth(lv, kSweeps);
}

void VoxelMultigrid::apply(const std::vector<double>& r, std::vector<double>& z) {
  Level& l0 = m_levels[0];
  for (std::int64_t i : l0.rows)
    for (int c = 0; c < 3; ++c) l0.b[3 * i + c] = l0.free[3 * i + c] * r[3 * i + c];
  cycle(0);
  for (std::int64_t i : l0.rows)
    for (int c = 0; c < 3; ++c) z[3 * i + c] = l0.free[3 * i + c] * l0.x[3 * i + c];
}

}  // namespace flare::am
