#include "am/simulate.h"

#include <Eigen/Dense>
#include <array>
#include <chrono>
#include <cmath>

#include "am/block_csr.h"
#include "am/build_plan.h"
#include "am/hex8.h"
#include "am/multigrid.h"
#include "common/error.h"

namespace flare::am {

namespace {

using Element = HexElement;

HexNodes element_nodes(const mesh::Mesh& part, const Element& e) {
  HexNodes x;
  for (int a = 0; a < 8; ++a) x.row(a) = part.points.row(e[a]);
  return x;
}

HexVector gather(const std::vector<double>& u, const Element& e) {
  HexVector v;
  for (int a = 0; a < 8; ++a)
    for (int c = 0; c < 3; ++c) v[3 * a + c] = u[3 * e[a] + c];
  return v;
}

void scatter_add(std::vector<double>& f, const Element& e, const HexVector& v) {
  for (int a = 0; a < 8; ++a)
    for (int c = 0; c < 3; ++c) f[3 * e[a] + c] += v[3 * a + c];
}

// Element stiffness and unit-material eigenstrain loads, shared by all axis-aligned boxes of one
// size (a voxel mesh computes each once); other hexahedra are integrated individually.
class ElementCache {
 public:
  ElementCache(const Elasticity& d, const Voigt& eps) : m_d(d), m_eps(eps) {}
  std::pair<HexMatrix, HexVector> get(const HexNodes& x) {
    Eigen::Vector3d size;
    if (!hex8_is_box(x, size)) return {hex8_stiffness(x, m_d), hex8_eigenstrain_load(x, m_d, m_eps)};
    for (const Entry& en : m_entries)
      if ((en.size - size).norm() <= 1e-9 * size.norm()) return {en.k, en.f};
    m_entries.push_back({size, hex8_stiffness(x, m_d), hex8_eigenstrain_load(x, m_d, m_eps)});
    return {m_entries.back().k, m_entries.back().f};
  }

 private:
  struct Entry {
    Eigen::Vector3d size;
    HexMatrix k;
    HexVector f;
  };
  Elasticity m_d;
  Voigt m_eps;
  std::vector<Entry> m_entries;
};

}  // namespace

SimulationReport simulate(mesh::Mesh& part, const SimulationOptions& opts,
                          const std::function<void(int, int)>& on_group) {
  if (opts.device != "cpu") return simulate_batch({&part}, opts, {}, on_group).front();
  const auto t0 = std::chrono::steady_clock::now();
  const SolverThreads threads(opts.threads);
  const BuildPlan plan = plan_build(part, opts);
  const Material& mat = opts.material;
  const std::int64_t n = part.num_points();
  const std::vector<Element>& elements = plan.elements;
  const std::int64_t ne = std::int64_t(elements.size());
  const int groups = plan.groups;
  const std::vector<char>& on_plate = plan.on_plate;
  const auto& members = plan.members;

  const Elasticity d = isotropic_elasticity(mat.youngs_modulus, mat.poisson_ratio);
  Voigt eps = Voigt::Zero();
  eps.head<3>() = mat.inherent_strain;
  ElementCache cache(d, eps);
  BlockCsr k(n, elements);
  std::unique_ptr<VoxelMultigrid> mg =
      opts.multigrid ? VoxelMultigrid::build(part, elements, k) : nullptr;

  SimulationReport report;
  report.nodes = n;
  report.elements = ne;
  report.groups = groups;
  report.solves = plan.solves() + (opts.release ? 1 : 0);
  const int max_iterations = 100000;
  std::vector<double> u(3 * n, 0.0), du(3 * n, 0.0), f(3 * n, 0.0), free(3 * n, 0.0);
  std::vector<HexVector> u_birth(ne);  // element DOFs at activation: strain counts from there
  std::vector<std::int64_t> active_nodes;
  auto solve = [&](std::vector<double>& x) {
    if (!mg) return solve_pcg(k, active_nodes, free, f, x, opts.rtol, max_iterations);
    mg->update(active_nodes, free);
    return solve_pcg(k, active_nodes, free, f, x, opts.rtol, max_iterations,
                     [&](const std::vector<double>& r, std::vector<double>& z) { mg->apply(r, z); });
  };

  std::vector<char> is_active(n, 0);
  for (int g = 0; g < groups; ++g) {
    if (!members[g].empty()) {
      std::fill(f.begin(), f.end(), 0.0);
      for (std::int64_t e : members[g]) {
        const auto [ke, fe] = cache.get(element_nodes(part, elements[e]));
        k.add_element(elements[e], ke);
        if (mg && e == members[g].front()) mg->add_elements(members[g], ke);  // lattice: one K_e
        scatter_add(f, elements[e], fe);
        u_birth[e] = gather(u, elements[e]);
        for (std::int64_t v : elements[e])
          if (!is_active[v]) {
            is_active[v] = 1;
            active_nodes.push_back(v);
            for (int c = 0; c < 3; ++c) free[3 * v + c] = on_plate[v] || plan.supported[v] ? 0.0 : 1.0;
          }
      }
      for (std::int64_t v : plan.held[g])
        for (int c = 0; c < 3; ++c) free[3 * v + c] = 0.0;
      std::fill(du.begin(), du.end(), 0.0);
      const CgResult cg = solve(du);
      report.cg_iterations += cg.iterations;
      for (std::int64_t v : plan.held[g])
        for (int c = 0; c < 3; ++c) free[3 * v + c] = on_plate[v] || plan.supported[v] ? 0.0 : 1.0;
      for (std::int64_t v : active_nodes)
        for (int c = 0; c < 3; ++c) u[3 * v + c] += du[3 * v + c];
    }
    if (on_group) on_group(g, groups);
  }

  auto element_u = [&](std::int64_t e) { return HexVector(gather(u, elements[e]) - u_birth[e]); };
  if (opts.release) {
    // Springback: the reactions of the plate and the supports are the internal forces left on their
    // nodes; removing them applies their opposite to the free-standing part.
    std::fill(f.begin(), f.end(), 0.0);
    for (std::int64_t e = 0; e < ne; ++e)
      scatter_add(f, elements[e],
                  -hex8_internal_force(element_nodes(part, elements[e]), d, eps, element_u(e)));
    for (std::int64_t i = 0; i < n; ++i)
      if (!on_plate[i] && !plan.supported[i])
        for (int c = 0; c < 3; ++c) f[3 * i + c] = 0;
    std::fill(free.begin(), free.end(), 0.0);
    for (std::int64_t v : active_nodes)
      for (int c = 0; c < 3; ++c) free[3 * v + c] = 1.0;
    for (std::int64_t dof : rigid_body_support(part, plan.plate)) free[dof] = 0.0;
    std::fill(du.begin(), du.end(), 0.0);
    const CgResult cg = solve(du);
    report.cg_iterations += cg.iterations;
    for (std::int64_t v : active_nodes)
      for (int c = 0; c < 3; ++c) u[3 * v + c] += du[3 * v + c];
  }

  // Element von Mises stress, averaged to the nodes.
  std::vector<double> vm_sum(n, 0.0), vm_count(n, 0.0), vm_elem(ne);
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < ne; ++e)
    vm_elem[e] = von_mises(hex8_mean_stress(element_nodes(part, elements[e]), d, eps, element_u(e)));
  for (std::int64_t e = 0; e < ne; ++e)
    for (std::int64_t v : elements[e]) {
      vm_sum[v] += vm_elem[e];
      vm_count[v] += 1;
    }
  for (std::int64_t i = 0; i < n; ++i) vm_sum[i] = vm_count[i] > 0 ? vm_sum[i] / vm_count[i] : 0.0;

  write_outputs(part, plan, opts, u, vm_sum);

  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace flare::am
