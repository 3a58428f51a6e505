#include "am/simulate.h"

#include <Eigen/Dense>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>
#include <omp.h>
#include <unordered_map>

#include "am/block_csr.h"
#include "am/hex8.h"
#include "am/multigrid.h"
#include "common/error.h"

namespace flare::am {

namespace {

using Element = std::array<std::int64_t, 8>;

// VTK_VOXEL numbers its nodes in x-fastest lattice order; VTK_HEXAHEDRON goes round each face.
constexpr int kVoxelToHex[8] = {0, 1, 3, 2, 4, 5, 7, 6};

std::vector<Element> hex_elements(const mesh::Mesh& part) {
  std::vector<Element> elements(part.num_cells());
  std::int64_t others = 0;
  int other_type = 0;
  for (std::int64_t c = 0; c < part.num_cells(); ++c) {
    const auto t = part.cell_type(c);
    if ((t != mesh::CellType::Hexahedron && t != mesh::CellType::Voxel) || part.cell_size(c) != 8) {
      if (others++ == 0) other_type = int(t);
      continue;
    }
    const std::int64_t* v = part.cell(c);
    for (int a = 0; a < 8; ++a) elements[c][a] = t == mesh::CellType::Voxel ? v[kVoxelToHex[a]] : v[a];
  }
  FLARE_INPUT_CHECK(others == 0, "the part mesh has ", others, " non-hexahedral cells (the first is a ",
                    mesh::cell_type_name(mesh::CellType(other_type)),
                    "): the process simulation needs an all-hexahedron (or voxel) mesh; voxelise the "
                    "part with `am voxelize` or mesh it with hexahedra");
  return elements;
}

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

std::int64_t find_root(std::vector<std::int64_t>& parent, std::int64_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// Every piece of the part must stand on the plate, joined face to face: a floating island has no
// support, and a piece hanging on by an edge or a corner is a hinge. Either makes the stiffness
// singular, and CG would wander rather than fail clearly.
void check_supported(const std::vector<Element>& elements, const std::vector<char>& on_plate) {
  constexpr int kFace[6][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4},
                               {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};
  struct FaceHash {
    std::size_t operator()(const std::array<std::int64_t, 4>& f) const {
      std::size_t h = 0;
      for (std::int64_t v : f) h = h * 1000003u ^ std::size_t(v);
      return h;
    }
  };
  const std::int64_t ne = std::int64_t(elements.size());
  std::vector<std::int64_t> parent(ne);
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<char> supported(ne, 0);
  std::unordered_map<std::array<std::int64_t, 4>, std::int64_t, FaceHash> faces;
  faces.reserve(3 * ne);
  for (std::int64_t e = 0; e < ne; ++e)
    for (const auto& fv : kFace) {
      std::array<std::int64_t, 4> f;
      bool plate = true;
      for (int k = 0; k < 4; ++k) {
        f[k] = elements[e][fv[k]];
        plate = plate && on_plate[f[k]];
      }
      if (plate) supported[e] = 1;
      std::sort(f.begin(), f.end());
      auto [it, added] = faces.try_emplace(f, e);
      if (!added) {
        const std::int64_t r0 = find_root(parent, it->second), r1 = find_root(parent, e);
        if (r0 != r1) parent[r1] = r0;
      }
    }
  std::vector<char> root_supported(ne, 0);
  for (std::int64_t e = 0; e < ne; ++e)
    if (supported[e]) root_supported[find_root(parent, e)] = 1;
  std::int64_t floating = 0;
  for (std::int64_t e = 0; e < ne; ++e)
    if (!root_supported[find_root(parent, e)]) ++floating;
  FLARE_INPUT_CHECK(floating == 0, "the part has ", floating,
                    " elements in pieces that are not joined face to face to the build plate "
                    "(z = min z): floating islands, or pieces hanging on by an edge or a corner; "
                    "add supports or remove them (am voxel meshes drop islands automatically)");
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

// 3-2-1 support on the plate nodes: one node fixed, a far node fixed in the two directions normal
// to the line between them, a third node off that line fixed in z. Exactly removes the six
// rigid-body modes and adds no reaction to a self-equilibrated load.
void rigid_body_support(const mesh::Mesh& part, const std::vector<std::int64_t>& plate,
                        std::vector<double>& free) {
  auto xy = [&](std::int64_t i) { return Eigen::Vector2d(part.points(i, 0), part.points(i, 1)); };
  std::int64_t a = plate[0];
  for (std::int64_t i : plate)
    if (std::make_pair(xy(i)[0], xy(i)[1]) < std::make_pair(xy(a)[0], xy(a)[1])) a = i;
  std::int64_t b = a, c = a;
  for (std::int64_t i : plate)
    if ((xy(i) - xy(a)).norm() > (xy(b) - xy(a)).norm()) b = i;
  const Eigen::Vector2d d = xy(b) - xy(a);
  FLARE_CHECK(d.norm() > 0, "the plate has a single node");
  auto off_line = [&](std::int64_t i) {
    const Eigen::Vector2d v = xy(i) - xy(a);
    return std::abs(d[0] * v[1] - d[1] * v[0]);
  };
  for (std::int64_t i : plate)
    if (off_line(i) > off_line(c)) c = i;
  FLARE_INPUT_CHECK(off_line(c) > 1e-9 * d.squaredNorm(),
                    "release from the plate needs a plate footprint that is not a single line of "
                    "nodes");
  for (int k = 0; k < 3; ++k) free[3 * a + k] = 0;
  free[3 * b + (std::abs(d[0]) >= std::abs(d[1]) ? 1 : 0)] = 0;
  free[3 * b + 2] = 0;
  free[3 * c + 2] = 0;
}

}  // namespace

SimulationReport simulate(mesh::Mesh& part, const SimulationOptions& opts,
                          const std::function<void(int, int)>& on_group) {
  const auto t0 = std::chrono::steady_clock::now();
  struct ThreadScope {  // nthreads-var is per calling thread: parallel jobs do not interfere
    int saved = omp_get_max_threads();
    explicit ThreadScope(int n) {
      if (n > 0) omp_set_num_threads(n);
    }
    ~ThreadScope() { omp_set_num_threads(saved); }
  } thread_scope(opts.threads);
  FLARE_INPUT_CHECK(part.num_points() > 0 && part.num_cells() > 0,
                    "the part mesh is empty (", part.num_points(), " points, ", part.num_cells(),
                    " cells): nothing to simulate");
  part.validate("part mesh");
  FLARE_INPUT_CHECK(opts.layer_groups >= 1, "--layers must be at least 1 (got ", opts.layer_groups, ")");
  FLARE_CHECK(opts.rtol > 0 && opts.rtol < 1, "rtol must be in (0, 1)");
  const Material& mat = opts.material;
  FLARE_INPUT_CHECK(mat.youngs_modulus > 0 && mat.poisson_ratio > -1 && mat.poisson_ratio < 0.5,
                    "material '", mat.name, "' has E = ", mat.youngs_modulus, ", nu = ",
                    mat.poisson_ratio, ": need E > 0 and -1 < nu < 0.5");

  const std::int64_t n = part.num_points();
  const std::vector<Element> elements = hex_elements(part);
  const std::int64_t ne = std::int64_t(elements.size());
  const int groups = opts.layer_groups;

  const double z_min = part.points.col(2).minCoeff(), z_max = part.points.col(2).maxCoeff();
  const double height = z_max - z_min;
  FLARE_INPUT_CHECK(height > 0, "the part mesh is flat (all z = ", z_min, "): nothing above the plate");
  std::vector<char> on_plate(n, 0);
  std::vector<std::int64_t> plate;
  for (std::int64_t i = 0; i < n; ++i)
    if (part.points(i, 2) <= z_min + 1e-9 * height) {
      on_plate[i] = 1;
      plate.push_back(i);
    }
  check_supported(elements, on_plate);

  // Build order: a group is a slab of equal height; an element joins by its centroid.
  std::vector<int> group_of(ne);
  std::vector<std::vector<std::int64_t>> members(groups);
  for (std::int64_t e = 0; e < ne; ++e) {
    double zc = 0;
    for (std::int64_t v : elements[e]) zc += part.points(v, 2);
    zc /= 8;
    const int g = std::clamp(int(std::floor((zc - z_min) / height * groups)), 0, groups - 1);
    group_of[e] = g;
    members[g].push_back(e);
  }
  std::vector<int> birth(n, -1);
  for (std::int64_t e = 0; e < ne; ++e)
    for (std::int64_t v : elements[e])
      if (birth[v] < 0 || group_of[e] < birth[v]) birth[v] = group_of[e];

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
            for (int c = 0; c < 3; ++c) free[3 * v + c] = on_plate[v] ? 0.0 : 1.0;
          }
      }
      std::fill(du.begin(), du.end(), 0.0);
      const CgResult cg = solve(du);
      report.cg_iterations += cg.iterations;
      for (std::int64_t v : active_nodes)
        for (int c = 0; c < 3; ++c) u[3 * v + c] += du[3 * v + c];
    }
    if (on_group) on_group(g, groups);
  }

  auto element_u = [&](std::int64_t e) { return HexVector(gather(u, elements[e]) - u_birth[e]); };
  if (opts.release) {
    // Springback: the plate's reaction is the internal force left on the plate nodes; removing the
    // plate applies its opposite to the free-standing part.
    std::fill(f.begin(), f.end(), 0.0);
    for (std::int64_t e = 0; e < ne; ++e)
      scatter_add(f, elements[e],
                  -hex8_internal_force(element_nodes(part, elements[e]), d, eps, element_u(e)));
    for (std::int64_t i = 0; i < n; ++i)
      if (!on_plate[i])
        for (int c = 0; c < 3; ++c) f[3 * i + c] = 0;
    std::fill(free.begin(), free.end(), 0.0);
    for (std::int64_t v : active_nodes)
      for (int c = 0; c < 3; ++c) free[3 * v + c] = 1.0;
    rigid_body_support(part, plate, free);
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

  part.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  part.point_data.put(mesh::DataArray::from_doubles("von_mises", 1, vm_sum));
  mesh::DataArray layer("layer", mesh::DType::Int32, 1, n);
  std::int32_t* layer_data = layer.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) layer_data[i] = birth[i];
  part.point_data.put(std::move(layer));
  part.field_strings["material"] = mat.name;
  part.field_data.put(mesh::DataArray::from_doubles("youngs_modulus", 1, {mat.youngs_modulus}));
  part.field_data.put(mesh::DataArray::from_doubles("poisson_ratio", 1, {mat.poisson_ratio}));
  part.field_data.put(mesh::DataArray::from_doubles(
      "inherent_strain", 3, {mat.inherent_strain[0], mat.inherent_strain[1], mat.inherent_strain[2]}));
  mesh::DataArray groups_array("layer_groups", mesh::DType::Int32, 1, 1);
  groups_array.data<std::int32_t>()[0] = groups;
  part.field_data.put(std::move(groups_array));
  mesh::DataArray release_array("release", mesh::DType::Int32, 1, 1);
  release_array.data<std::int32_t>()[0] = opts.release ? 1 : 0;
  part.field_data.put(std::move(release_array));

  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace flare::am
