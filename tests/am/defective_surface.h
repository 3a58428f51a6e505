// A corpus of defective surfaces generated from clean ones, for the robust voxelisation tests:
// clean closed solids are boundaries of unions of lattice cells (a box, a frame with a hole
// through it, two-shell unions), and each defect is applied to their triangle soup the way CAD
// exports and mesh tools produce it: flipped triangles, duplicated triangles, shells touching on a
// shared face, overlapping shells, a seam opened by a fraction of a voxel.
#pragma once

#include <Eigen/Core>
#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mesh/mesh.h"

namespace flare::am::test {

/// Triangles over shared points (corners welded by lattice index), outward.
struct Soup {
  std::vector<Eigen::Vector3d> points;
  std::vector<std::array<std::int64_t, 3>> triangles;
};

/// Cell (i, j, k) of the lattice is [origin + cell * (i, j, k), ... + cell).
struct Lattice {
  Eigen::Vector3d origin{0.11, 0.23, 0.05};  // off the voxel lattice: no centre lies on a face
  double cell = 1.37;
};

/// The boundary of the union of the solid cells in [0, n)^3: one quad (two triangles) per face
/// between a solid and an empty cell, counter-clockwise seen from the empty side.
inline Soup lattice_surface(const std::function<bool(int, int, int)>& solid, std::array<int, 3> n,
                            const Lattice& lat = {}) {
  Soup s;
  std::map<std::array<int, 3>, std::int64_t> ids;
  auto node = [&](std::array<int, 3> c) {
    auto [it, fresh] = ids.try_emplace(c, std::int64_t(s.points.size()));
    if (fresh) s.points.push_back(lat.origin + lat.cell * Eigen::Vector3d(c[0], c[1], c[2]));
    return it->second;
  };
  auto in = [&](int i, int j, int k) {
    return i >= 0 && j >= 0 && k >= 0 && i < n[0] && j < n[1] && k < n[2] && solid(i, j, k);
  };
  for (int k = 0; k < n[2]; ++k)
    for (int j = 0; j < n[1]; ++j)
      for (int i = 0; i < n[0]; ++i) {
        if (!in(i, j, k)) continue;
        for (int axis = 0; axis < 3; ++axis)
          for (int side = 0; side < 2; ++side) {
            std::array<int, 3> nb{i, j, k};
            nb[axis] += side ? 1 : -1;
            if (in(nb[0], nb[1], nb[2])) continue;
            // The face's corners: fix `axis` at i or i + 1, run the other two axes u, v.
            const int u = (axis + 1) % 3, v = (axis + 2) % 3;
            std::array<std::int64_t, 4> q;
            for (int c = 0; c < 4; ++c) {
              std::array<int, 3> p{i, j, k};
              p[axis] += side;
              p[u] += (c == 1 || c == 2);
              p[v] += (c >= 2);
              q[c] = node(p);
            }
            // (u, v) is right-handed with `axis`: q0 q1 q2 q3 is counter-clockwise seen from +axis.
            if (side)
              s.triangles.push_back({q[0], q[1], q[2]}), s.triangles.push_back({q[0], q[2], q[3]});
            else
              s.triangles.push_back({q[0], q[2], q[1]}), s.triangles.push_back({q[0], q[3], q[2]});
          }
      }
  return s;
}

/// An axis-aligned block of cells [lo, hi).
inline std::function<bool(int, int, int)> block(std::array<int, 3> lo, std::array<int, 3> hi) {
  return [=](int i, int j, int k) {
    return i >= lo[0] && i < hi[0] && j >= lo[1] && j < hi[1] && k >= lo[2] && k < hi[2];
  };
}

inline mesh::Mesh to_mesh(const Soup& s) {
  mesh::Mesh m;
  m.points.resize(std::int64_t(s.points.size()), 3);
  for (std::size_t p = 0; p < s.points.size(); ++p) m.points.row(Eigen::Index(p)) = s.points[p].transpose();
  for (const auto& t : s.triangles) m.add_cell(mesh::CellType::Triangle, {t[0], t[1], t[2]});
  return m;
}

/// Both surfaces in one soup (two shells).
inline Soup concat(const Soup& a, const Soup& b) {
  Soup s = a;
  const std::int64_t off = std::int64_t(a.points.size());
  s.points.insert(s.points.end(), b.points.begin(), b.points.end());
  for (auto t : b.triangles) s.triangles.push_back({t[0] + off, t[1] + off, t[2] + off});
  return s;
}

/// Reverses `count` triangles chosen by `seed`; returns how many distinct ones were reversed.
inline int flip_some(Soup& s, int count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> done(s.triangles.size(), 0);
  int flipped = 0;
  while (flipped < count) {
    const std::size_t t = rng() % s.triangles.size();
    if (done[t]) continue;
    done[t] = 1;
    std::swap(s.triangles[t][1], s.triangles[t][2]);
    ++flipped;
  }
  return flipped;
}

/// Appends copies of `count` distinct triangles chosen by `seed` (the first one twice).
inline int duplicate_some(Soup& s, int count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> done(s.triangles.size(), 0);
  const std::size_t n = s.triangles.size();
  int copies = 0;
  for (int picked = 0; picked < count;) {
    const std::size_t t = rng() % n;
    if (done[t]) continue;
    done[t] = 1;
    for (int c = 0; c < (picked == 0 ? 2 : 1); ++c, ++copies) s.triangles.push_back(s.triangles[t]);
    ++picked;
  }
  return copies;
}

/// Opens the seam around the top face (the triangles at the largest z, facing up): its corners
/// get their own copies, pulled toward the face's centre in x and y so that the edges along the
/// walls move in by `gap`, and raised by `lift` (then the hole is not planar: a horizontal slit
/// and a vertical band). Returns the number of triangles detached.
inline int open_top_seam(Soup& s, double gap, double lift = 0) {
  double ztop = -1e300;
  for (const auto& p : s.points) ztop = std::max(ztop, p.z());
  Eigen::Vector2d lo(1e300, 1e300), hi(-1e300, -1e300);
  std::vector<std::size_t> top;
  for (std::size_t t = 0; t < s.triangles.size(); ++t) {
    bool up = true;
    for (auto v : s.triangles[t]) up = up && s.points[v].z() == ztop;
    if (!up) continue;
    top.push_back(t);
    for (auto v : s.triangles[t]) {
      lo = lo.cwiseMin(s.points[v].head<2>());
      hi = hi.cwiseMax(s.points[v].head<2>());
    }
  }
  const Eigen::Vector2d centre = (lo + hi) / 2, half = (hi - lo) / 2;
  std::map<std::int64_t, std::int64_t> copy;
  for (std::size_t t : top)
    for (auto& v : s.triangles[t]) {
      auto [it, fresh] = copy.try_emplace(v, std::int64_t(s.points.size()));
      if (fresh) {
        Eigen::Vector3d p = s.points[v];
        for (int a = 0; a < 2; ++a) p[a] = centre[a] + (p[a] - centre[a]) * (1 - gap / half[a]);
        p.z() += lift;
        s.points.push_back(p);
      }
      v = it->second;
    }
  return int(top.size());
}

/// Raises every corner at the largest z by `lift`: the clean surface that open_top_seam(s, 0, lift)
/// leaves a gap in.
inline void raise_top(Soup& s, double lift) {
  double ztop = -1e300;
  for (const auto& p : s.points) ztop = std::max(ztop, p.z());
  for (auto& p : s.points)
    if (p.z() == ztop) p.z() += lift;
}

/// ASCII STL of the soup, for the command-line tests.
inline void write_stl(const Soup& s, const std::string& path) {
  std::ofstream f(path);
  f.precision(17);
  f << "solid corpus\n";
  for (const auto& t : s.triangles) {
    f << " facet normal 0 0 0\n  outer loop\n";
    for (auto v : t) f << "   vertex " << s.points[v].x() << " " << s.points[v].y() << " " << s.points[v].z() << "\n";
    f << "  endloop\n endfacet\n";
  }
  f << "endsolid corpus\n";
}

}  // namespace flare::am::test
