// Inside test of surfaces with open edges (gaps, holes): the generalized winding number, either
// through hole-closing cones (used) or evaluated directly at every voxel centre (the definition,
// kept to check the first against and to measure it).
#include <omp.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "am/voxelize_detail.h"
#include "common/error.h"
#include "mesh/winding_number.h"

namespace flare::am::detail {

using Eigen::Vector3d;

namespace {

// What the voxel-centre winding numbers add up to, reduced over threads.
struct Tally {
  double max_w = -std::numeric_limits<double>::infinity();
  std::int64_t uncertain = 0, overlap = 0;
};

inline void classify(double w, std::uint8_t& solid, Tally& t) {
  t.max_w = std::max(t.max_w, w);
  t.uncertain += w > 0.25 && w < 0.75;
  t.overlap += w >= 1.5;
  solid = w >= 0.5;
}

void finish(const Tally& t, SurfaceDefects& d, const std::string& source) {
  FLARE_INPUT_CHECK(t.max_w >= 0.75, source, ": the surface has no inside: it has ", d.open_edges,
                    " open edges and its winding number reaches only ", t.max_w,
                    " (1 inside a closed solid); is it an open sheet? Close it into a watertight "
                    "solid and retry");
  d.uncertain_voxels = t.uncertain;
  d.overlap_voxels = t.overlap;
  d.by_winding_number = true;
}

mesh::WindingNumber winding_number(const std::vector<Vector3d>& vertices,
                                   const std::vector<std::array<std::int32_t, 3>>& tris) {
  mesh::Points points(std::int64_t(vertices.size()), 3);
  for (std::size_t v = 0; v < vertices.size(); ++v) points.row(Eigen::Index(v)) = vertices[v].transpose();
  mesh::Triangles triangles(std::int64_t(tris.size()), 3);
  for (std::size_t t = 0; t < tris.size(); ++t)
    triangles.row(Eigen::Index(t)) << tris[t][0], tris[t][1], tris[t][2];
  return mesh::WindingNumber(points, triangles);
}

std::int32_t find(std::vector<std::int32_t>& parent, std::int32_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

// The cone triangles that close `s`: for each open edge traversed a->b `net` more times than
// b->a, |net| copies of (b, a, apex), the apex being the centroid of the corners of the edge's
// connected part of the open-edge graph. The open edges form cycles (the boundary of a surface
// has none of its own), and so does each connected part: S + C has no open edge. Apexes are
// appended to `vertices`.
std::vector<std::array<std::int32_t, 3>> closing_cones(const TriangleSurface& s,
                                                       std::vector<Vector3d>& vertices) {
  std::unordered_map<std::uint64_t, int> net;  // (lo << 32 | hi) -> uses lo->hi minus hi->lo
  for (const auto& t : s.triangles)
    for (int e = 0; e < 3; ++e) {
      const std::int32_t a = t[e], b = t[(e + 1) % 3];
      const auto lo = std::uint32_t(std::min(a, b)), hi = std::uint32_t(std::max(a, b));
      net[(std::uint64_t(lo) << 32) | hi] += a < b ? 1 : -1;
    }
  struct Open {
    std::int32_t a, b;  // traversed a->b, `count` times more than b->a
    int count;
  };
  std::vector<Open> open;
  for (const auto& [key, n] : net)
    if (n != 0) {
      const auto lo = std::int32_t(key >> 32), hi = std::int32_t(key & 0xffffffffu);
      open.push_back(n > 0 ? Open{lo, hi, n} : Open{hi, lo, -n});
    }
  // Deterministic order (the map's is not): the cones' triangle order fixes rounding in sums.
  std::sort(open.begin(), open.end(), [](const Open& x, const Open& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  std::vector<std::int32_t> parent(s.vertices.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (const Open& o : open) parent[find(parent, o.a)] = find(parent, o.b);
  std::unordered_map<std::int32_t, std::int32_t> apex_of;  // root -> apex vertex
  std::vector<Vector3d> sum;
  std::vector<std::int64_t> count;
  std::vector<char> seen(s.vertices.size(), 0);
  for (const Open& o : open)
    for (std::int32_t v : {o.a, o.b}) {
      if (seen[v]) continue;
      seen[v] = 1;
      const auto [it, fresh] = apex_of.try_emplace(find(parent, v), std::int32_t(sum.size()));
      if (fresh) {
        sum.push_back(Vector3d::Zero());
        count.push_back(0);
      }
      sum[it->second] += s.vertices[v];
      ++count[it->second];
    }
  const std::int32_t first_apex = std::int32_t(vertices.size());
  for (std::size_t c = 0; c < sum.size(); ++c) vertices.push_back(sum[c] / double(count[c]));
  std::vector<std::array<std::int32_t, 3>> cones;
  for (const Open& o : open) {
    const std::int32_t apex = first_apex + apex_of.at(find(parent, o.a));
    for (int k = 0; k < o.count; ++k) cones.push_back({o.b, o.a, apex});
  }
  return cones;
}

}  // namespace

void fill_open_surface(const TriangleSurface& s, VoxelGrid& g, SurfaceDefects& d,
                       const std::string& source) {
  TriangleSurface closed = s;
  const auto cones = closing_cones(s, closed.vertices);
  // The cones pay off when the holes are local. Holes that join up give one apex for all and cone
  // triangles across the whole part, which every voxel must sum nearly exactly (measured on a
  // sphere with every 4th triangle gone: 40x slower than the definition, with cone triangles
  // covering 7 columns per voxel; every 10th gone: 0.07 and 1.5x faster). A soup whose corners
  // did not weld has more cone triangles than triangles. Then evaluate the definition.
  double cone_columns = 0;
  for (const auto& t : cones) {
    Eigen::AlignedBox2d b;
    for (std::int32_t v : t) b.extend(closed.vertices[v].head<2>());
    cone_columns += (b.sizes().x() / g.voxel + 1) * (b.sizes().y() / g.voxel + 1);
  }
  if (cones.size() > s.triangles.size() || cone_columns > double(g.size()))
    return fill_by_winding_number(s, g, d, source);
  d.closing_triangles = std::int64_t(cones.size());
  closed.triangles.insert(closed.triangles.end(), cones.begin(), cones.end());
  const std::vector<Hit> hits = column_crossings(closed, g);
  const mesh::WindingNumber cone_wn = winding_number(closed.vertices, cones);

  // Each column's crossings: hits[start[c] .. start[c + 1]).
  const std::int64_t columns = std::int64_t(g.nx) * g.ny;
  std::vector<std::int64_t> start(std::size_t(columns) + 1, 0);
  for (const Hit& h : hits) ++start[std::size_t(h.column) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());

  const double h = g.voxel;
  Tally total;
#pragma omp parallel
  {
    Tally t;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t c = 0; c < columns; ++c) {
      const int i = int(c % g.nx), j = int(c / g.nx);
      std::int64_t next = start[std::size_t(c)];
      const std::int64_t end = start[std::size_t(c) + 1];
      int w_closed = 0;
      for (int k = 0; k < g.nz; ++k) {
        const Vector3d q = g.origin + h * Vector3d(i + 0.5, j + 0.5, k + 0.5);
        // Crossings at or below the centre count (as in the closed case: [z_in, z_out)).
        while (next < end && hits[std::size_t(next)].z <= q.z()) w_closed += hits[std::size_t(next++)].sign;
        classify(double(w_closed) - cone_wn(q), g.solid[std::size_t(g.index(i, j, k))], t);
      }
    }
#pragma omp critical
    {
      total.max_w = std::max(total.max_w, t.max_w);
      total.uncertain += t.uncertain;
      total.overlap += t.overlap;
    }
  }
  finish(total, d, source);
}

void fill_by_winding_number(const TriangleSurface& s, VoxelGrid& g, SurfaceDefects& d,
                            const std::string& source) {
  const mesh::WindingNumber wn = winding_number(s.vertices, s.triangles);
  const std::int64_t rows = std::int64_t(g.ny) * g.nz;
  Tally total;
#pragma omp parallel
  {
    Tally t;
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t row = 0; row < rows; ++row) {
      const int j = int(row % g.ny), k = int(row / g.ny);
      for (int i = 0; i < g.nx; ++i)
        classify(wn(g.origin + g.voxel * Vector3d(i + 0.5, j + 0.5, k + 0.5)),
                 g.solid[std::size_t(g.index(i, j, k))], t);
    }
#pragma omp critical
    {
      total.max_w = std::max(total.max_w, t.max_w);
      total.uncertain += t.uncertain;
      total.overlap += t.overlap;
    }
  }
  finish(total, d, source);
}

}  // namespace flare::am::detail
