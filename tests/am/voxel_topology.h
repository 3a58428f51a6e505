// Test helpers: topology and overhangs of a voxel part, to check that procedural families make
// holes, cavities and overhangs. The solid is the union of the closed solid voxels, so the empty
// space is face-connected (6-neighbours) where the solid is not in the way.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "am/voxel_grid.h"

namespace flare::am::test {

/// Euler characteristic V - E + F - C of the union of the closed solid voxels. For one connected
/// solid it is 1 - tunnels + cavities (tunnels: through-holes and handles).
inline std::int64_t euler_characteristic(const VoxelGrid& g) {
  auto solid = [&](int i, int j, int k) {
    return i >= 0 && j >= 0 && k >= 0 && i < g.nx && j < g.ny && k < g.nz && g.at(i, j, k);
  };
  std::int64_t edges = 0, faces = 0;
  // Lattice edges along axis a at lattice point p: present when one of the 4 voxels around it is.
  for (int a = 0; a < 3; ++a) {
    const int b = (a + 1) % 3, c = (a + 2) % 3;
    const std::array<int, 3> n = {g.nx, g.ny, g.nz};
    std::array<int, 3> p{};
    for (p[a] = 0; p[a] < n[a]; ++p[a])
      for (p[b] = 0; p[b] <= n[b]; ++p[b])
        for (p[c] = 0; p[c] <= n[c]; ++p[c]) {
          bool any = false;
          for (int db = -1; db <= 0 && !any; ++db)
            for (int dc = -1; dc <= 0 && !any; ++dc) {
              std::array<int, 3> v = p;
              v[b] += db, v[c] += dc;
              any = solid(v[0], v[1], v[2]);
            }
          edges += any;
        }
    // Faces normal to axis a: present when one of the 2 voxels beside it is.
    for (p[a] = 0; p[a] <= n[a]; ++p[a])
      for (p[b] = 0; p[b] < n[b]; ++p[b])
        for (p[c] = 0; p[c] < n[c]; ++p[c]) {
          std::array<int, 3> v = p;
          bool any = solid(v[0], v[1], v[2]);
          v[a] -= 1;
          faces += any || solid(v[0], v[1], v[2]);
        }
  }
  return g.count_nodes() - edges + faces - g.count_solid();
}

/// Empty regions not connected to the outside of the grid (trapped powder).
inline int enclosed_cavities(const VoxelGrid& g) {
  // Pad by one voxel so that the outside is one region.
  const int nx = g.nx + 2, ny = g.ny + 2, nz = g.nz + 2;
  auto id = [&](int i, int j, int k) { return i + std::int64_t(nx) * (j + std::int64_t(ny) * k); };
  std::vector<std::uint8_t> seen(std::size_t(nx) * ny * nz, 0);
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i)
        if (g.at(i, j, k)) seen[id(i + 1, j + 1, k + 1)] = 1;
  int regions = 0;
  std::vector<std::int64_t> stack;
  for (std::int64_t s = 0; s < std::int64_t(seen.size()); ++s) {
    if (seen[s]) continue;
    ++regions;
    seen[s] = 1;
    stack.push_back(s);
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      const int i = int(v % nx), j = int(v / nx % ny), k = int(v / (std::int64_t(nx) * ny));
      const int nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k},
                            {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
      for (const auto& q : nb)
        if (q[0] >= 0 && q[1] >= 0 && q[2] >= 0 && q[0] < nx && q[1] < ny && q[2] < nz &&
            !seen[id(q[0], q[1], q[2])]) {
          seen[id(q[0], q[1], q[2])] = 1;
          stack.push_back(id(q[0], q[1], q[2]));
        }
    }
  }
  return regions - 1;
}

/// Down-facing voxel faces above the lowest solid layer (solid voxel over an empty one): the
/// overhang area in voxel faces.
inline std::int64_t overhang_faces(const VoxelGrid& g) {
  int k0 = -1;
  for (int k = 0; k < g.nz && k0 < 0; ++k)
    for (int j = 0; j < g.ny && k0 < 0; ++j)
      for (int i = 0; i < g.nx; ++i)
        if (g.at(i, j, k)) {
          k0 = k;
          break;
        }
  std::int64_t n = 0;
  for (int k = k0 + 1; k0 >= 0 && k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i) n += g.at(i, j, k) && !g.at(i, j, k - 1);
  return n;
}

/// Through-holes and handles of one face-connected solid: 1 - chi + cavities.
inline std::int64_t tunnels(const VoxelGrid& g) { return 1 + enclosed_cavities(g) - euler_characteristic(g); }

/// Extent of the solid voxels along each axis, mm.
inline std::array<double, 3> solid_extent(const VoxelGrid& g) {
  std::array<int, 3> lo = {g.nx, g.ny, g.nz}, hi = {-1, -1, -1};
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i)
        if (g.at(i, j, k)) {
          const std::array<int, 3> p = {i, j, k};
          for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
        }
  std::array<double, 3> e{};
  for (int a = 0; a < 3; ++a) e[a] = hi[a] >= lo[a] ? (hi[a] - lo[a] + 1) * g.voxel : 0;
  return e;
}

}  // namespace flare::am::test
