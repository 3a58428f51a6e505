#include "am/voxel_grid.h"

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace flare::am {

VoxelGrid VoxelGrid::empty(const Eigen::Vector3d& origin, double voxel, int nx, int ny, int nz) {
  FLARE_CHECK(nx >= 0 && ny >= 0 && nz >= 0 && voxel > 0, "bad voxel grid shape ", nx, "x", ny, "x",
              nz, " h=", voxel);
  VoxelGrid g;
  g.origin = origin;
  g.voxel = voxel;
  g.nx = nx;
  g.ny = ny;
  g.nz = nz;
  g.solid.assign(std::size_t(g.size()), 0);
  return g;
}

std::int64_t VoxelGrid::count_solid() const {
  std::int64_t n = 0;
  for (std::uint8_t s : solid) n += s != 0;
  return n;
}

std::int64_t VoxelGrid::count_nodes() const {
  // Sweep node planes k = 0..nz: a node is used if any of its (up to) 8 surrounding voxels is solid.
  std::int64_t n = 0;
  for (int k = 0; k <= nz; ++k)
    for (int j = 0; j <= ny; ++j)
      for (int i = 0; i <= nx; ++i) {
        bool used = false;
        for (int dk = -1; dk <= 0 && !used; ++dk)
          for (int dj = -1; dj <= 0 && !used; ++dj)
            for (int di = -1; di <= 0 && !used; ++di) {
              int a = i + di, b = j + dj, c = k + dk;
              if (a >= 0 && b >= 0 && c >= 0 && a < nx && b < ny && c < nz && at(a, b, c)) used = true;
            }
        n += used;
      }
  return n;
}

int label_components(const VoxelGrid& g, std::vector<std::int32_t>& labels) {
  FLARE_CHECK(std::int64_t(g.solid.size()) == g.size(), "voxel grid has ", g.solid.size(),
              " flags for ", g.size(), " voxels");
  labels.assign(g.solid.size(), -1);
  std::vector<std::int64_t> stack;
  int count = 0;
  const std::int64_t sx = 1, sy = g.nx, sz = std::int64_t(g.nx) * g.ny;
  for (std::int64_t seed = 0; seed < g.size(); ++seed) {
    if (!g.solid[seed] || labels[seed] >= 0) continue;
    labels[seed] = count;
    stack.push_back(seed);
    while (!stack.empty()) {
      std::int64_t v = stack.back();
      stack.pop_back();
      int i = int(v % g.nx), j = int((v / g.nx) % g.ny), k = int(v / sz);
      auto visit = [&](bool inside, std::int64_t w) {
        if (inside && g.solid[w] && labels[w] < 0) {
          labels[w] = count;
          stack.push_back(w);
        }
      };
      visit(i > 0, v - sx);
      visit(i + 1 < g.nx, v + sx);
      visit(j > 0, v - sy);
      visit(j + 1 < g.ny, v + sy);
      visit(k > 0, v - sz);
      visit(k + 1 < g.nz, v + sz);
    }
    ++count;
  }
  return count;
}

namespace {

// Lowest k with a solid voxel, or -1.
int lowest_solid_layer(const VoxelGrid& g) {
  const std::int64_t layer = std::int64_t(g.nx) * g.ny;
  for (int k = 0; k < g.nz; ++k)
    for (std::int64_t v = k * layer; v < (k + 1) * layer; ++v)
      if (g.solid[v]) return k;
  return -1;
}

}  // namespace

IslandReport keep_plate_connected(VoxelGrid& g) {
  IslandReport r;
  std::vector<std::int32_t> labels;
  r.components = label_components(g, labels);
  int k0 = lowest_solid_layer(g);
  if (k0 < 0) return r;
  std::vector<std::uint8_t> on_plate(std::size_t(r.components), 0);
  const std::int64_t layer = std::int64_t(g.nx) * g.ny;
  for (std::int64_t v = k0 * layer; v < (k0 + 1) * layer; ++v)
    if (labels[v] >= 0) on_plate[labels[v]] = 1;
  for (int c = 0; c < r.components; ++c) r.dropped_islands += !on_plate[c];
  if (r.dropped_islands == 0) return r;
  for (std::int64_t v = 0; v < g.size(); ++v)
    if (labels[v] >= 0 && !on_plate[labels[v]]) {
      g.solid[v] = 0;
      ++r.dropped_voxels;
    }
  return r;
}

std::int64_t fill_pinholes(VoxelGrid& g, std::int64_t max_voxels) {
  VoxelGrid empty = g;  // the complement: its components are the empty regions
  for (auto& v : empty.solid) v = !v;
  std::vector<std::int32_t> labels;
  const int regions = label_components(empty, labels);
  std::vector<std::int64_t> size(std::size_t(regions), 0);
  std::vector<std::uint8_t> open(std::size_t(regions), 0);
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i) {
        const std::int32_t l = labels[g.index(i, j, k)];
        if (l < 0) continue;
        ++size[std::size_t(l)];
        if (i == 0 || j == 0 || k == 0 || i + 1 == g.nx || j + 1 == g.ny || k + 1 == g.nz) open[std::size_t(l)] = 1;
      }
  std::int64_t filled = 0;
  for (std::int64_t v = 0; v < g.size(); ++v) {
    const std::int32_t l = labels[v];
    if (l >= 0 && !open[std::size_t(l)] && size[std::size_t(l)] <= max_voxels) {
      g.solid[v] = 1;
      ++filled;
    }
  }
  return filled;
}

IslandReport keep_largest_component(VoxelGrid& g) {
  IslandReport r;
  std::vector<std::int32_t> labels;
  r.components = label_components(g, labels);
  if (r.components <= 1) return r;
  std::vector<std::int64_t> size(std::size_t(r.components), 0);
  for (std::int32_t l : labels)
    if (l >= 0) ++size[std::size_t(l)];
  const auto keep = std::int32_t(std::max_element(size.begin(), size.end()) - size.begin());
  r.dropped_islands = r.components - 1;
  for (std::int64_t v = 0; v < g.size(); ++v)
    if (labels[v] >= 0 && labels[v] != keep) {
      g.solid[v] = 0;
      ++r.dropped_voxels;
    }
  return r;
}

mesh::Mesh voxel_mesh(const VoxelGrid& input, IslandReport* report) {
  VoxelGrid g = input;
  IslandReport islands = keep_plate_connected(g);
  if (report) *report = islands;
  const int k0 = lowest_solid_layer(g);
  FLARE_INPUT_CHECK(k0 >= 0, "voxel mesh: the part has no solid voxels (the geometry is empty or "
                    "smaller than one voxel: use a smaller voxel size)");

  // Node (i, j, k) of the (nx+1)(ny+1)(nz+1) lattice gets an id when a solid voxel uses it; ids
  // follow lattice order, so the numbering is deterministic and bottom-up.
  const std::int64_t NX = g.nx + 1, NY = g.ny + 1, NZ = g.nz + 1;
  FLARE_INPUT_CHECK(NX * NY * NZ < std::numeric_limits<std::int32_t>::max(), "voxel mesh: grid ",
                    g.nx, "x", g.ny, "x", g.nz, " is too large (use a larger voxel size)");
  std::vector<std::int32_t> node_id(std::size_t(NX * NY * NZ), -1);
  auto node = [&](std::int64_t i, std::int64_t j, std::int64_t k) { return i + NX * (j + NY * k); };
  std::int64_t cells = 0;
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i) {
        if (!g.at(i, j, k)) continue;
        ++cells;
        for (int c = 0; c < 8; ++c) node_id[node(i + (c & 1), j + ((c >> 1) & 1), k + (c >> 2))] = 0;
      }
  // Used nodes were marked 0 above; number them in lattice order.
  std::int32_t points = 0;
  for (auto& id : node_id)
    if (id == 0) id = points++;

  mesh::Mesh m;
  m.points.resize(points, 3);
  for (std::int64_t k = 0; k < NZ; ++k)
    for (std::int64_t j = 0; j < NY; ++j)
      for (std::int64_t i = 0; i < NX; ++i) {
        std::int32_t id = node_id[node(i, j, k)];
        if (id < 0) continue;
        m.points(id, 0) = g.origin.x() + g.voxel * double(i);
        m.points(id, 1) = g.origin.y() + g.voxel * double(j);
        m.points(id, 2) = g.voxel * double(k - k0);
      }

  m.types.assign(std::size_t(cells), std::uint8_t(mesh::CellType::Hexahedron));
  m.offsets.resize(std::size_t(cells) + 1);
  m.connectivity.resize(std::size_t(cells) * 8);
  mesh::DataArray ijk("voxel_ijk", mesh::DType::Int32, 3, cells);
  auto* ijk_data = ijk.data<std::int32_t>();  // [cells, 3]
  std::int64_t c = 0;
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i) {
        if (!g.at(i, j, k)) continue;
        // VTK_HEXAHEDRON order: bottom face counter-clockwise seen from +z, then the top face.
        const std::int64_t corner[8] = {node(i, j, k),         node(i + 1, j, k),
                                        node(i + 1, j + 1, k), node(i, j + 1, k),
                                        node(i, j, k + 1),     node(i + 1, j, k + 1),
                                        node(i + 1, j + 1, k + 1), node(i, j + 1, k + 1)};
        m.offsets[c] = c * 8;
        for (int v = 0; v < 8; ++v) m.connectivity[c * 8 + v] = node_id[corner[v]];
        ijk_data[3 * c] = i;
        ijk_data[3 * c + 1] = j;
        ijk_data[3 * c + 2] = k - k0;
        ++c;
      }
  m.offsets[cells] = cells * 8;
  m.cell_data.put(std::move(ijk));
  m.field_data.put(mesh::DataArray::from_doubles("voxel_size", 1, {g.voxel}));
  return m;
}

}  // namespace flare::am
