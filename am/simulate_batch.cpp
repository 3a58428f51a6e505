// simulate_batch: several parts with one set of options. On the CPU device the parts are solved one
// after the other by simulate(); on the lattice devices each part's hex mesh is mapped onto its voxel
// lattice (am/lattice/problem.h) and the whole batch is solved at once.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <exception>
#include <cmath>

#include "am/build_plan.h"
#include "am/hex8.h"
#include "am/lattice/problem.h"
#include "am/simulate.h"
#include "common/error.h"

namespace flare::am {

namespace {

struct Mapped {
  BuildPlan plan;
  lattice::Part part;
  Eigen::Vector3d h = Eigen::Vector3d::Zero();     // voxel edge lengths
  std::vector<std::int64_t> lattice_node;          // [points] lattice node, -1 when unused
};

// The part's voxel lattice: every element an axis-aligned box of one size, nodes on the lattice
// its corners span, one element per lattice cell and one mesh point per lattice node.
Mapped map_to_lattice(const mesh::Mesh& m, const SimulationOptions& opts, const std::string& name) {
  Mapped out;
  out.plan = plan_build(m, opts);
  const BuildPlan& plan = out.plan;
  const std::int64_t np = m.num_points();
  auto refuse = [&](const std::string& why) {
    throw InputError(name + ": --device " + opts.device + " solves voxel meshes only (" + why +
                     "); use --device cpu for other hexahedral meshes");
  };
  Eigen::Vector3d origin = Eigen::Vector3d::Constant(INFINITY);
  for (std::size_t e = 0; e < plan.elements.size(); ++e) {
    Eigen::Vector3d lo = Eigen::Vector3d::Constant(INFINITY), hi = -lo;
    for (std::int64_t v : plan.elements[e]) {
      lo = lo.cwiseMin(Eigen::Vector3d(m.points.row(v)));
      hi = hi.cwiseMax(Eigen::Vector3d(m.points.row(v)));
    }
    if (e == 0) out.h = hi - lo;
    if ((hi - lo - out.h).cwiseAbs().maxCoeff() > 1e-6 * out.h.maxCoeff() || out.h.minCoeff() <= 0)
      refuse("its elements are not boxes of one size");
    origin = origin.cwiseMin(lo);
  }
  out.lattice_node.assign(np, -1);
  Eigen::Vector3i hi_node = Eigen::Vector3i::Zero();
  std::vector<Eigen::Vector3i> ijk(np, Eigen::Vector3i::Constant(-1));
  std::vector<char> used(np, 0);
  for (const HexElement& el : plan.elements)
    for (std::int64_t v : el) used[v] = 1;
  for (std::int64_t i = 0; i < np; ++i) {
    if (!used[i]) continue;
    const Eigen::Vector3d t = (Eigen::Vector3d(m.points.row(i)) - origin).cwiseQuotient(out.h);
    const Eigen::Vector3d r = t.array().round();
    if ((t - r).cwiseAbs().maxCoeff() > 1e-6 || r.maxCoeff() > 2e6) refuse("its nodes are not on one lattice");
    ijk[i] = r.cast<int>();
    hi_node = hi_node.cwiseMax(ijk[i]);
  }
  lattice::Part& part = out.part;
  part.name = name;
  part.nx = hi_node[0];
  part.ny = hi_node[1];
  part.nz = hi_node[2];
  FLARE_INPUT_CHECK(part.nx > 0 && part.ny > 0 && part.nz > 0, name, ": the voxel lattice is empty");
  const std::int64_t nxn = part.nx + 1, nyn = part.ny + 1;
  std::vector<std::int64_t> point_of_node(std::size_t(part.nodes()), -1);
  for (std::int64_t i = 0; i < np; ++i) {
    if (!used[i]) continue;
    const std::int64_t n = ijk[i][0] + nxn * (ijk[i][1] + nyn * ijk[i][2]);
    if (point_of_node[std::size_t(n)] >= 0) refuse("points " + std::to_string(point_of_node[std::size_t(n)]) + " and " +
                                                   std::to_string(i) + " coincide; merge duplicate points");
    point_of_node[std::size_t(n)] = i;
    out.lattice_node[i] = n;
  }
  part.solid.assign(std::size_t(part.cells()), 0);
  std::vector<int> layer_group(std::size_t(part.nz), -1);
  for (std::size_t e = 0; e < plan.elements.size(); ++e) {
    Eigen::Vector3i lo = Eigen::Vector3i::Constant(1 << 30);
    for (std::int64_t v : plan.elements[e]) lo = lo.cwiseMin(ijk[v]);
    const std::int64_t c = lo[0] + std::int64_t(part.nx) * (lo[1] + std::int64_t(part.ny) * lo[2]);
    if (part.solid[std::size_t(c)]) refuse("two elements fill one voxel");
    part.solid[std::size_t(c)] = 1;
    int& g = layer_group[std::size_t(lo[2])];
    FLARE_CHECK(g < 0 || g == plan.group_of[e], "lattice: one layer in two groups");
    g = plan.group_of[e];
  }
  // Groups grow with height; a layer without elements (impossible in a plate-connected part, kept
  // for safety) belongs with the layer below.
  for (int k = 0; k < part.nz; ++k)
    if (layer_group[std::size_t(k)] < 0) layer_group[std::size_t(k)] = k > 0 ? layer_group[std::size_t(k - 1)] : 0;
  part.k_top.assign(std::size_t(plan.groups), 0);
  for (int g = 0, k = 0; g < plan.groups; ++g) {
    while (k < part.nz && layer_group[std::size_t(k)] <= g) ++k;
    part.k_top[std::size_t(g)] = k;
  }
  FLARE_CHECK(part.k_top.back() == part.nz, "lattice: layers left unbuilt");
  if (opts.supports) {
    part.supported.assign(std::size_t(part.nodes()), 0);
    for (std::int64_t i = 0; i < np; ++i)
      if (plan.supported[i] && out.lattice_node[i] >= 0) part.supported[std::size_t(out.lattice_node[i])] = 1;
  }
  part.held.resize(plan.held.size());
  for (std::size_t g = 0; g < plan.held.size(); ++g)
    for (std::int64_t v : plan.held[g]) part.held[g].push_back(out.lattice_node[v]);
  // Only the groups that add a layer are solves. Keeping just those lets a batch run every part's
  // n-th solve together: with groups of one physical height, parts of other voxel sizes add their
  // layers in different groups, and a batch of 69 parts ran 436 group solves instead of at most
  // 60 (each solve costs the whole batch a CG run).
  std::vector<int> k_top;
  std::vector<std::vector<std::int64_t>> held;
  for (std::size_t g = 0; g < part.k_top.size(); ++g) {
    if (part.k_top[g] == (k_top.empty() ? 0 : k_top.back())) continue;
    k_top.push_back(part.k_top[g]);
    held.push_back(g < part.held.size() ? std::move(part.held[g]) : std::vector<std::int64_t>{});
  }
  part.k_top = std::move(k_top);
  part.held = std::move(held);
  if (opts.release) {
    const auto dofs = rigid_body_support(m, plan.plate);
    for (int k = 0; k < 6; ++k) part.support[k] = 3 * out.lattice_node[dofs[k] / 3] + dofs[k] % 3;
  }
  return out;
}

lattice::Problem make_problem(const SimulationOptions& opts, const Eigen::Vector3d& h) {
  lattice::Problem pb;
  // The unit element is the voxel in units of its x edge: the solution scales with the length.
  HexNodes x;
  const Eigen::Vector3d size(1.0, h[1] / h[0], h[2] / h[0]);
  constexpr int kCorner[8][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0},
                                 {0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1}};
  for (int a = 0; a < 8; ++a)
    for (int k = 0; k < 3; ++k) x(a, k) = kCorner[a][k] * size[k];
  const Elasticity d = isotropic_elasticity(opts.material.youngs_modulus, opts.material.poisson_ratio);
  Voigt eps = Voigt::Zero();
  eps.head<3>() = opts.material.inherent_strain;
  const HexMatrix ke = hex8_stiffness(x, d);
  const HexVector fe = hex8_eigenstrain_load(x, d, eps);
  const Eigen::Matrix<double, 6, 24> bbar = hex8_mean_strain_displacement(x);
  for (int i = 0; i < 24; ++i)
    for (int j = 0; j < 24; ++j) pb.ke[std::size_t(24 * i + j)] = ke(i, j);
  for (int i = 0; i < 24; ++i) pb.fe[std::size_t(i)] = fe[i];
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 24; ++j) pb.bbar[std::size_t(24 * i + j)] = bbar(i, j);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) pb.d[std::size_t(6 * i + j)] = d(i, j);
  for (int i = 0; i < 6; ++i) pb.eps[std::size_t(i)] = eps[i];
  pb.release = opts.release;
  pb.rtol = opts.rtol;
  return pb;
}

}  // namespace

std::vector<SimulationReport> simulate_batch(const std::vector<mesh::Mesh*>& parts, const SimulationOptions& opts,
                                             const std::vector<std::string>& names,
                                             const std::function<void(int, int)>& on_group) {
  FLARE_CHECK(names.empty() || names.size() == parts.size(), "simulate_batch: one name per part");
  std::vector<BatchPart> batch;
  for (std::size_t i = 0; i < parts.size(); ++i)
    batch.push_back({parts[i], names.empty() ? "part " + std::to_string(i) : names[i], 0.0});
  return simulate_batch(batch, opts, on_group);
}

std::vector<SimulationReport> simulate_batch(const std::vector<BatchPart>& parts, const SimulationOptions& opts,
                                             const std::function<void(int, int)>& on_group) {
  auto name = [&](std::size_t i) { return parts[i].name; };
  std::vector<SimulationReport> reports;
  if (opts.device == "cpu") {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      SimulationOptions o = opts;
      if (parts[i].rtol > 0) o.rtol = parts[i].rtol;
      reports.push_back(simulate(*parts[i].mesh, o, on_group));
    }
    return reports;
  }
  FLARE_INPUT_CHECK(opts.device == "cuda" || opts.device == "lattice-host", "unknown device '", opts.device,
                    "' for the process simulation (use cpu or cuda)");
  if (parts.empty()) return reports;
  const auto t0 = std::chrono::steady_clock::now();
  // Each part's plan and lattice map are independent: in parallel (the first error wins).
  std::vector<Mapped> mapped(parts.size());
  std::vector<std::exception_ptr> errors(parts.size());
#pragma omp parallel for schedule(dynamic) if (parts.size() > 1)
  for (std::size_t i = 0; i < parts.size(); ++i) {
    try {
      mapped[i] = map_to_lattice(*parts[i].mesh, opts, name(i));
      mapped[i].part.rtol = parts[i].rtol;  // 0: the problem's, opts.rtol (make_problem)
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  const double prepared = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Eigen::Vector3d aspect = mapped[0].h / mapped[0].h[0];
  for (const Mapped& mp : mapped)
    FLARE_INPUT_CHECK((mp.h / mp.h[0] - aspect).cwiseAbs().maxCoeff() < 1e-6, mp.part.name,
                      ": its voxels have another shape than the batch's first part; batch parts with one "
                      "voxel shape");
  lattice::Problem pb = make_problem(opts, mapped[0].h);
  for (Mapped& mp : mapped) pb.parts.push_back(std::move(mp.part));
  std::vector<lattice::Solution> sol;
  {
    const SolverThreads threads(opts.threads);  // the host build's loops, as simulate() sets them
    sol = opts.device == "cuda" ? lattice::solve_cuda(pb, on_group) : lattice::solve_host(pb, on_group);
  }
  const double solved = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - prepared;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    mesh::Mesh& m = *parts[i].mesh;
    const Mapped& mp = mapped[i];
    const std::int64_t np = m.num_points();
    std::vector<double> u(3 * np, 0.0), vm(np, 0.0);
    for (std::int64_t p = 0; p < np; ++p) {
      const std::int64_t n = mp.lattice_node[p];
      if (n < 0) continue;
      for (int c = 0; c < 3; ++c) u[3 * p + c] = sol[i].u[std::size_t(3 * n + c)] * mp.h[0];
      vm[p] = sol[i].von_mises[std::size_t(n)];
    }
    write_outputs(m, mp.plan, opts, u, vm);
    SimulationReport r;
    r.prepare_seconds = prepared;
    r.solve_seconds = solved;
    r.groups = mp.plan.groups;
    r.solves = sol[i].solves;
    r.cg_iterations = sol[i].iterations;
    r.nodes = np;
    r.elements = std::int64_t(mp.plan.elements.size());
    reports.push_back(r);
  }
  // Each part's share of the batch's wall time (outputs included).
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (SimulationReport& r : reports) r.seconds = seconds / double(parts.size());
  return reports;
}

}  // namespace flare::am
