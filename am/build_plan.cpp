#include "am/build_plan.h"

#include <Eigen/Core>
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "common/error.h"

namespace flare::am {

namespace {

// VTK_VOXEL numbers its nodes in x-fastest lattice order; VTK_HEXAHEDRON goes round each face.
constexpr int kVoxelToHex[8] = {0, 1, 3, 2, 4, 5, 7, 6};

std::vector<HexElement> hex_elements(const mesh::Mesh& part) {
  std::vector<HexElement> elements(part.num_cells());
  std::int64_t others = 0;
  int other_type = 0;
#pragma omp parallel for reduction(+ : others)
  for (std::int64_t c = 0; c < part.num_cells(); ++c) {
    const auto t = part.cell_type(c);
    if ((t != mesh::CellType::Hexahedron && t != mesh::CellType::Voxel) || part.cell_size(c) != 8) {
      ++others;
      continue;
    }
    const std::int64_t* v = part.cell(c);
    for (int a = 0; a < 8; ++a) elements[c][a] = t == mesh::CellType::Voxel ? v[kVoxelToHex[a]] : v[a];
  }
  for (std::int64_t c = 0; others > 0 && c < part.num_cells(); ++c)
    if (const auto t = part.cell_type(c);
        (t != mesh::CellType::Hexahedron && t != mesh::CellType::Voxel) || part.cell_size(c) != 8) {
      other_type = int(t);
      break;
    }
  FLARE_INPUT_CHECK(others == 0, "the part mesh has ", others, " non-hexahedral cells (the first is a ",
                    mesh::cell_type_name(mesh::CellType(other_type)),
                    "): the process simulation needs an all-hexahedron (or voxel) mesh; voxelise the "
                    "part with `am voxelize` or mesh it with hexahedra");
  return elements;
}

constexpr int kFace[6][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4}, {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};

// Per element, its face neighbours (-1 where none), and whether a face lies on the plate.
struct FaceGraph {
  std::vector<std::array<std::int64_t, 6>> neighbour;
  std::vector<char> on_plate;
};

FaceGraph face_graph(const std::vector<HexElement>& elements, const std::vector<char>& plate_node) {
  // Faces bucketed by their smallest node (a counting sort; a node starts at most a dozen faces),
  // then matched within each bucket: linear time, no hashing (an unordered_map of the faces took
  // 2.3 s for 187k elements). A bucket holds face codes (6 element + face: 8 bytes, where whole
  // sorted faces took 48 and their page faults cost as much as the matching), and each is sorted
  // before matching, so the neighbours (even of a non-manifold face) do not depend on the order
  // threads filled it in.
  const std::int64_t ne = std::int64_t(elements.size());
  std::int64_t nodes = 0;
#pragma omp parallel for reduction(max : nodes)
  for (std::int64_t e = 0; e < ne; ++e)
    for (std::int64_t v : elements[std::size_t(e)]) nodes = std::max(nodes, v + 1);
  FaceGraph g;
  g.neighbour.assign(ne, {-1, -1, -1, -1, -1, -1});
  g.on_plate.assign(ne, 0);
  auto sorted_face = [&](std::int64_t code) {
    std::array<std::int64_t, 4> f;
    for (int k = 0; k < 4; ++k) f[k] = elements[std::size_t(code / 6)][kFace[code % 6][k]];
    std::sort(f.begin(), f.end());
    return f;
  };
  std::vector<std::int64_t> start(nodes + 1, 0);
#pragma omp parallel for
  for (std::int64_t e = 0; e < ne; ++e)
    for (int fi = 0; fi < 6; ++fi) {
      const auto f = sorted_face(6 * e + fi);
#pragma omp atomic
      ++start[f[0] + 1];
      if (plate_node[f[0]] && plate_node[f[1]] && plate_node[f[2]] && plate_node[f[3]]) g.on_plate[e] = 1;
    }
  for (std::int64_t v = 0; v < nodes; ++v) start[v + 1] += start[v];
  std::unique_ptr<std::int64_t[]> faces(new std::int64_t[std::size_t(6 * ne)]);  // every slot is filled
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
#pragma omp parallel for
  for (std::int64_t e = 0; e < ne; ++e)
    for (int fi = 0; fi < 6; ++fi) {
      const std::int64_t code = 6 * e + fi;
      const std::int64_t first = sorted_face(code)[0];
      std::int64_t slot;
#pragma omp atomic capture
      slot = fill[first]++;
      faces[std::size_t(slot)] = code;
    }
#pragma omp parallel for schedule(dynamic, 4096)
  for (std::int64_t v = 0; v < nodes; ++v) {
    std::int64_t* b0 = faces.get() + start[v];
    const std::int64_t k = start[v + 1] - start[v];
    std::sort(b0, b0 + k);
    for (std::int64_t i = 0; i < k; ++i) {
      const auto a = sorted_face(b0[i]);
      for (std::int64_t j = i + 1; j < k; ++j) {
        const auto b = sorted_face(b0[j]);
        if (a[1] == b[1] && a[2] == b[2] && a[3] == b[3]) {
          g.neighbour[std::size_t(b0[i] / 6)][std::size_t(b0[i] % 6)] = b0[j] / 6;
          g.neighbour[std::size_t(b0[j] / 6)][std::size_t(b0[j] % 6)] = b0[i] / 6;
        }
      }
    }
  }
  return g;
}

struct UnionFind {
  std::vector<std::int64_t> parent;
  std::vector<char> supported;  // per root: the piece holds a plate face
  explicit UnionFind(std::int64_t n, const std::vector<char>& plate) : parent(n), supported(plate) {
    std::iota(parent.begin(), parent.end(), 0);
  }
  std::int64_t root(std::int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void join(std::int64_t a, std::int64_t b) {
    a = root(a);
    b = root(b);
    if (a == b) return;
    parent[b] = a;
    supported[a] = supported[a] || supported[b];
  }
};

// Every piece of the part must stand on the plate, joined face to face: a floating island has no
// support, and a piece hanging on by an edge or a corner is a hinge. Either makes the stiffness
// singular, and CG would wander rather than fail clearly.
void check_supported(const FaceGraph& g) {
  const std::int64_t ne = std::int64_t(g.neighbour.size());
  UnionFind uf(ne, g.on_plate);
  for (std::int64_t e = 0; e < ne; ++e)
    for (std::int64_t n : g.neighbour[e])
      if (n >= 0) uf.join(e, n);
  std::int64_t floating = 0;
  for (std::int64_t e = 0; e < ne; ++e)
    if (!uf.supported[uf.root(e)]) ++floating;
  FLARE_INPUT_CHECK(floating == 0, "the part has ", floating,
                    " elements in pieces that are not joined face to face to the build plate "
                    "(z = min z): floating islands, or pieces hanging on by an edge or a corner; "
                    "add supports or remove them (am voxel meshes drop islands automatically)");
}

// Pieces that start in mid-air (a downward feature joined to the part by a later layer) are not
// yet joined to the plate when their layers are built: their rigid motion is undetermined, and a
// real build holds them on support structures. Their nodes are held fixed until a later layer
// joins them; the sets are computed once here so that every solver holds the same nodes.
std::vector<std::vector<std::int64_t>> held_nodes(const BuildPlan& plan, const FaceGraph& g,
                                                  const std::vector<char>& anchored) {
  const std::int64_t ne = std::int64_t(plan.elements.size());
  UnionFind uf(ne, anchored);
  std::vector<char> active(ne, 0);
  std::vector<std::int64_t> pending;  // elements whose piece was unsupported when last checked
  std::vector<std::vector<std::int64_t>> held(plan.groups);
  for (int k = 0; k < plan.groups; ++k) {
    for (std::int64_t e : plan.members[k]) {
      active[e] = 1;
      for (std::int64_t n : g.neighbour[e])
        if (n >= 0 && active[n]) uf.join(e, n);
      pending.push_back(e);
    }
    std::vector<std::int64_t> still;
    for (std::int64_t e : pending)
      if (!uf.supported[uf.root(e)]) still.push_back(e);
    pending.swap(still);
    for (std::int64_t e : pending) held[k].insert(held[k].end(), plan.elements[e].begin(), plan.elements[e].end());
    std::sort(held[k].begin(), held[k].end());
    held[k].erase(std::unique(held[k].begin(), held[k].end()), held[k].end());
  }
  return held;
}

}  // namespace

int BuildPlan::solves() const {
  int n = 0;
  for (const auto& m : members) n += m.empty() ? 0 : 1;
  return n;
}

BuildPlan plan_build(const mesh::Mesh& part, const SimulationOptions& opts) {
  FLARE_INPUT_CHECK(part.num_points() > 0 && part.num_cells() > 0,
                    "the part mesh is empty (", part.num_points(), " points, ", part.num_cells(),
                    " cells): nothing to simulate");
  part.validate("part mesh");
  FLARE_INPUT_CHECK(opts.layer_groups >= 1, "--layers must be at least 1 (got ", opts.layer_groups, ")");
  FLARE_INPUT_CHECK(std::isfinite(opts.layer_height) && opts.layer_height >= 0,
                    "--layer-height must be a positive length in mm (got ", opts.layer_height, ")");
  FLARE_CHECK(opts.rtol > 0 && opts.rtol < 1, "rtol must be in (0, 1)");
  const Material& mat = opts.material;
  FLARE_INPUT_CHECK(mat.youngs_modulus > 0 && mat.poisson_ratio > -1 && mat.poisson_ratio < 0.5,
                    "material '", mat.name, "' has E = ", mat.youngs_modulus, ", nu = ",
                    mat.poisson_ratio, ": need E > 0 and -1 < nu < 0.5");

  BuildPlan plan;
  const std::int64_t n = part.num_points();
  plan.elements = hex_elements(part);
  const std::int64_t ne = std::int64_t(plan.elements.size());
  plan.z_min = part.points.col(2).minCoeff();
  plan.height = part.points.col(2).maxCoeff() - plan.z_min;
  FLARE_INPUT_CHECK(plan.height > 0, "the part mesh is flat (all z = ", plan.z_min, "): nothing above the plate");
  plan.on_plate.assign(n, 0);
  for (std::int64_t i = 0; i < n; ++i)
    if (part.points(i, 2) <= plan.z_min + 1e-9 * plan.height) {
      plan.on_plate[i] = 1;
      plan.plate.push_back(i);
    }
  const FaceGraph graph = face_graph(plan.elements, plan.on_plate);
  check_supported(graph);

  // Build order: a group is a slab; an element joins by its centroid. Slabs of a fixed height
  // follow the process (the same for every part); K equal slabs follow the part's height.
  if (opts.layer_height > 0) {
    const double k = plan.height / opts.layer_height;
    FLARE_INPUT_CHECK(k <= 1e6, "--layer-height ", opts.layer_height, " mm makes ", k,
                      " layer groups on a part ", plan.height, " mm tall: give the height in mm");
    plan.groups = std::max(1, int(std::ceil(k - 1e-9)));
    plan.slab = opts.layer_height;
  } else {
    plan.groups = opts.layer_groups;
    plan.slab = plan.height / plan.groups;
  }
  std::vector<double> centroid_z(ne);
  plan.group_of.resize(ne);
#pragma omp parallel for
  for (std::int64_t e = 0; e < ne; ++e) {
    double zc = 0;
    for (std::int64_t v : plan.elements[e]) zc += part.points(v, 2);
    centroid_z[e] = zc / 8;
    // The K-slab rule keeps its original arithmetic: a centroid on a slab boundary (10 layers in
    // 4 groups) must fall on the same side as in datasets made before layer heights existed.
    const double t = opts.layer_height > 0 ? (centroid_z[e] - plan.z_min) / plan.slab
                                           : (centroid_z[e] - plan.z_min) / plan.height * plan.groups;
    plan.group_of[e] = std::clamp(int(std::floor(t)), 0, plan.groups - 1);
  }
  plan.members.assign(plan.groups, {});
  for (std::int64_t e = 0; e < ne; ++e) plan.members[plan.group_of[e]].push_back(e);
  plan.birth.assign(n, -1);
  for (std::int64_t e = 0; e < ne; ++e)
    for (std::int64_t v : plan.elements[e])
      if (plan.birth[v] < 0 || plan.group_of[e] < plan.birth[v]) plan.birth[v] = plan.group_of[e];
  plan.supported.assign(n, 0);
  if (opts.supports) {
    // A node has material below when an element holding it has its centroid below it.
    std::vector<char> below(n, 0);
    for (std::int64_t e = 0; e < ne; ++e)
      for (std::int64_t v : plan.elements[e])
        if (centroid_z[e] < part.points(v, 2)) below[v] = 1;
    // Bottom face (the four lowest nodes) of each element: overhanging when none of its nodes has
    // material below and it is not on the plate.
    // Found in parallel, marked in order (elements share nodes).
    auto bottom = [&](std::int64_t e) {
      std::array<std::int64_t, 8> v = plan.elements[std::size_t(e)];
      std::sort(v.begin(), v.end(), [&](std::int64_t a, std::int64_t b) { return part.points(a, 2) < part.points(b, 2); });
      return v;
    };
    std::vector<char> hanging(std::size_t(ne), 0);
#pragma omp parallel for
    for (std::int64_t e = 0; e < ne; ++e) {
      const auto v = bottom(e);
      bool h = !plan.on_plate[v[0]];
      for (int k = 0; k < 4 && h; ++k) h = !below[v[k]];
      hanging[std::size_t(e)] = h;
    }
    for (std::int64_t e = 0; e < ne; ++e)
      if (hanging[std::size_t(e)]) {
        const auto v = bottom(e);
        for (int k = 0; k < 4; ++k) plan.supported[v[k]] = 1;
      }
  }
  // With supports, a piece standing on them is anchored like one on the plate.
  std::vector<char> anchored = graph.on_plate;
  if (opts.supports)
#pragma omp parallel for
    for (std::int64_t el = 0; el < ne; ++el)
      for (std::int64_t v : plan.elements[std::size_t(el)]) anchored[el] = anchored[el] || plan.supported[v];
  plan.held = held_nodes(plan, graph, anchored);
  return plan;
}

std::array<std::int64_t, 6> rigid_body_support(const mesh::Mesh& part, const std::vector<std::int64_t>& plate) {
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
  return {3 * a, 3 * a + 1, 3 * a + 2, 3 * b + (std::abs(d[0]) >= std::abs(d[1]) ? 1 : 0), 3 * b + 2,
          3 * c + 2};
}

SolverThreads::SolverThreads(int threads) : m_saved(omp_get_max_threads()) {
  if (threads > 0) omp_set_num_threads(threads);
}

SolverThreads::~SolverThreads() { omp_set_num_threads(m_saved); }

void write_outputs(mesh::Mesh& part, const BuildPlan& plan, const SimulationOptions& opts,
                   const std::vector<double>& u, const std::vector<double>& von_mises) {
  const std::int64_t n = part.num_points();
  const Material& mat = opts.material;
  part.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  part.point_data.put(mesh::DataArray::from_doubles("von_mises", 1, von_mises));
  mesh::DataArray layer("layer", mesh::DType::Int32, 1, n);
  std::int32_t* layer_data = layer.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) layer_data[i] = plan.birth[i];
  part.point_data.put(std::move(layer));
  part.field_strings["material"] = mat.name;
  part.field_data.put(mesh::DataArray::from_doubles("youngs_modulus", 1, {mat.youngs_modulus}));
  part.field_data.put(mesh::DataArray::from_doubles("poisson_ratio", 1, {mat.poisson_ratio}));
  part.field_data.put(mesh::DataArray::from_doubles(
      "inherent_strain", 3, {mat.inherent_strain[0], mat.inherent_strain[1], mat.inherent_strain[2]}));
  mesh::DataArray groups_array("layer_groups", mesh::DType::Int32, 1, 1);
  groups_array.data<std::int32_t>()[0] = plan.groups;
  part.field_data.put(std::move(groups_array));
  part.field_data.put(mesh::DataArray::from_doubles("layer_height", 1, {opts.layer_height}));
  mesh::DataArray supports_array("supports", mesh::DType::Int32, 1, 1);
  supports_array.data<std::int32_t>()[0] = opts.supports ? 1 : 0;
  part.field_data.put(std::move(supports_array));
  mesh::DataArray release_array("release", mesh::DType::Int32, 1, 1);
  release_array.data<std::int32_t>()[0] = opts.release ? 1 : 0;
  part.field_data.put(std::move(release_array));
}

}  // namespace flare::am
