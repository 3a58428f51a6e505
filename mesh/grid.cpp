#include "mesh/grid.h"

#include "common/error.h"

namespace flare::mesh {

Mesh hex_grid(int nx, int ny, int nz, double h, const std::function<bool(int, int, int)>& keep) {
  FLARE_CHECK(nx > 0 && ny > 0 && nz > 0 && h > 0, "hex_grid: bad size ", nx, "x", ny, "x", nz,
              " h=", h);
  const std::int64_t px = nx + 1, py = ny + 1, pz = nz + 1;
  auto node = [&](std::int64_t i, std::int64_t j, std::int64_t k) { return i + px * (j + py * k); };

  std::int64_t kept = 0;
  std::vector<std::uint8_t> cell_on(std::size_t(nx) * ny * nz, 1);
  if (keep)
    for (int k = 0; k < nz; ++k)
      for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i)
          cell_on[i + std::size_t(nx) * (j + std::size_t(ny) * k)] = keep(i, j, k) ? 1 : 0;
  for (auto on : cell_on) kept += on;

  // Number the points that kept cells use, in grid order.
  std::vector<std::int64_t> id(std::size_t(px * py * pz), keep ? -1 : 0);
  Mesh m;
  m.types.assign(std::size_t(kept), std::uint8_t(CellType::Hexahedron));
  m.offsets.resize(std::size_t(kept) + 1);
  for (std::int64_t c = 0; c <= kept; ++c) m.offsets[c] = 8 * c;
  m.connectivity.resize(std::size_t(8 * kept));
  std::int64_t c = 0;
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        if (!cell_on[i + std::size_t(nx) * (j + std::size_t(ny) * k)]) continue;
        // VTK hexahedron order: bottom face counter-clockwise, then the top face.
        const std::int64_t v[8] = {node(i, j, k),         node(i + 1, j, k),
                                   node(i + 1, j + 1, k), node(i, j + 1, k),
                                   node(i, j, k + 1),     node(i + 1, j, k + 1),
                                   node(i + 1, j + 1, k + 1), node(i, j + 1, k + 1)};
        for (int a = 0; a < 8; ++a) {
          m.connectivity[8 * c + a] = v[a];
          if (keep) id[v[a]] = 0;
        }
        ++c;
      }
  std::int64_t n = 0;
  for (auto& x : id)
    if (x == 0) x = n++;
  m.points.resize(n, 3);
  for (std::int64_t k = 0; k < pz; ++k)
    for (std::int64_t j = 0; j < py; ++j)
      for (std::int64_t i = 0; i < px; ++i)
        if (std::int64_t p = id[node(i, j, k)]; p >= 0) m.points.row(p) << i * h, j * h, k * h;
  for (auto& v : m.connectivity) v = id[v];
  return m;
}

}  // namespace flare::mesh
