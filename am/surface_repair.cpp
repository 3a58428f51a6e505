#include "am/surface_repair.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "mesh/winding_number.h"

namespace flare::am {

using Eigen::Vector3d;
using Tri = std::array<std::int32_t, 3>;

namespace {

std::uint64_t edge_key(std::int32_t a, std::int32_t b) {
  const auto lo = std::uint32_t(std::min(a, b)), hi = std::uint32_t(std::max(a, b));
  return (std::uint64_t(lo) << 32) | hi;
}

// Triangle t's edges as (key, +1 when it runs low -> high), sorted by key: an edge's uses are
// adjacent.
struct DirectedEdge {
  std::uint64_t key;
  std::int32_t tri;
  std::int8_t dir;
};

std::vector<DirectedEdge> directed_edges(const std::vector<Tri>& tris) {
  std::vector<DirectedEdge> edges;
  edges.reserve(tris.size() * 3);
  for (std::size_t t = 0; t < tris.size(); ++t)
    for (int e = 0; e < 3; ++e) {
      const std::int32_t a = tris[t][e], b = tris[t][(e + 1) % 3];
      edges.push_back({edge_key(a, b), std::int32_t(t), std::int8_t(a < b ? 1 : -1)});
    }
  std::sort(edges.begin(), edges.end(), [](const DirectedEdge& x, const DirectedEdge& y) {
    return x.key != y.key ? x.key < y.key : x.tri < y.tri;
  });
  return edges;
}

double tri_area(const TriangleSurface& s, const Tri& t) {
  return 0.5 * (s.vertices[t[1]] - s.vertices[t[0]]).cross(s.vertices[t[2]] - s.vertices[t[0]]).norm();
}

double tri_volume(const TriangleSurface& s, const Tri& t) {
  return s.vertices[t[0]].dot(s.vertices[t[1]].cross(s.vertices[t[2]])) / 6;
}

void flip(Tri& t) { std::swap(t[1], t[2]); }

// Step 1: of each group of triangles on the same three corners keep one copy or none. By default
// one copy, oriented like most of the group; none when the orientations cancel (a back-to-back
// pair: the face two touching shells share). Then a group switches between one copy and none while
// that makes fewer of its edges odd (used by an odd number of triangles, which a closed surface
// never has): a flipped copy on one shell keeps a copy, a shared face with one of its two copies
// flipped is dropped. Each switch lowers the number of odd edges, so this ends. Returns the kept
// triangles (indices into s.triangles, a kept copy reversed when `reverse` says so).
struct Kept {
  std::int32_t tri;
  bool reverse;
};

std::vector<Kept> drop_copies(const TriangleSurface& s, SurfaceDefects& d) {
  const std::int32_t T = std::int32_t(s.triangles.size());
  struct Entry {
    Tri sorted;
    std::int32_t tri;
    bool odd;  // an odd permutation of the sorted corners: the reverse orientation
  };
  std::vector<Entry> entries(static_cast<std::size_t>(T));
  for (std::int32_t t = 0; t < T; ++t) {
    Tri v = s.triangles[t];
    // Rotate the smallest corner first: then (v0, v1, v2) is even iff v1 < v2.
    const int m = int(std::min_element(v.begin(), v.end()) - v.begin());
    std::rotate(v.begin(), v.begin() + m, v.end());
    const bool odd = v[1] > v[2];
    if (odd) std::swap(v[1], v[2]);
    entries[t] = {v, t, odd};
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.sorted != b.sorted ? a.sorted < b.sorted : a.tri < b.tri;
  });
  struct Group {
    std::int32_t tri;  // the first member; kept (reversed when `reverse`) when `keep`
    bool reverse, keep;
    std::int64_t size;
  };
  std::vector<Kept> kept;
  std::vector<Group> groups;
  for (std::size_t i = 0; i < entries.size();) {
    std::size_t j = i;
    std::int64_t net = 0;
    for (; j < entries.size() && entries[j].sorted == entries[i].sorted; ++j)
      net += entries[j].odd == entries[i].odd ? 1 : -1;
    if (j - i == 1)
      kept.push_back({entries[i].tri, false});
    else
      groups.push_back({entries[i].tri, net < 0, net != 0, std::int64_t(j - i)});
    i = j;
  }
  if (groups.empty()) return kept;
  std::unordered_map<std::uint64_t, std::int32_t> uses;
  auto count = [&](std::int32_t t, int delta) {
    for (int e = 0; e < 3; ++e) uses[edge_key(s.triangles[t][e], s.triangles[t][(e + 1) % 3])] += delta;
  };
  for (const Kept& k : kept) count(k.tri, 1);
  for (const Group& g : groups)
    if (g.keep) count(g.tri, 1);
  for (bool changed = true; changed;) {
    changed = false;
    for (Group& g : groups) {
      const Tri& t = s.triangles[g.tri];
      int odd = 0;
      for (int e = 0; e < 3; ++e) odd += uses[edge_key(t[e], t[(e + 1) % 3])] % 2 != 0;
      if (3 - odd >= odd) continue;  // switching would not make fewer odd edges
      g.keep = !g.keep;
      count(g.tri, g.keep ? 1 : -1);
      changed = true;
    }
  }
  for (const Group& g : groups) {
    if (g.keep) {
      kept.push_back({g.tri, g.reverse});
      d.duplicated += g.size - 1;
    } else {
      ++d.internal_faces;
      d.duplicated += g.size - 2;
    }
  }
  std::sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) { return a.tri < b.tri; });
  return kept;
}

}  // namespace

bool SurfaceDefects::any() const {
  return duplicated || internal_faces || flipped || inverted_shells || nonmanifold_edges ||
         open_edges || overlap_voxels || by_winding_number;
}

std::string SurfaceDefects::describe() const {
  if (!any()) return "";
  std::ostringstream os;
  const char* sep = "";
  auto item = [&](std::int64_t n, const char* one, const char* many) {
    if (n == 0) return;
    os << sep << n << " " << (n == 1 ? one : many);
    sep = ", ";
  };
  os << "surface defects: ";
  item(nonmanifold_edges, "non-manifold edge", "non-manifold edges");
  item(open_edges, "open edge (gap or hole)", "open edges (gaps or holes)");
  item(duplicated, "duplicated triangle (dropped)", "duplicated triangles (dropped)");
  item(internal_faces, "face shared by touching shells (dropped)",
       "faces shared by touching shells (dropped)");
  if (flipped > 0) {
    os << sep << flipped << (flipped == 1 ? " flipped triangle" : " flipped triangles")
       << " (reoriented";
    if (inverted_shells > 0)
      os << "; " << inverted_shells << (inverted_shells == 1 ? " shell was" : " shells were")
         << " inside out";
    os << ")";
    sep = ", ";
  }
  item(overlap_voxels, "voxel inside overlapping shells", "voxels inside overlapping shells");
  if (by_winding_number)
    os << "; filled where the generalized winding number >= 0.5 (" << uncertain_voxels
       << " voxels uncertain, 0.25 < w < 0.75)";
  return os.str();
}

SurfaceDefects repair_surface(TriangleSurface& s) {
  SurfaceDefects d;
  const std::vector<Kept> kept = drop_copies(s, d);
  std::vector<Tri> tris;
  tris.reserve(kept.size());
  for (const Kept& k : kept) {
    tris.push_back(s.triangles[k.tri]);
    if (k.reverse) flip(tris.back());  // the orientation most of its copies have
  }
  const std::vector<Tri> given = tris;  // to count the reoriented ones at the end
  const std::int32_t T = std::int32_t(tris.size());

  // Step 2: patches over edges of exactly two triangles, oriented like their larger part.
  std::vector<std::array<std::int32_t, 3>> nb(static_cast<std::size_t>(T), {-1, -1, -1});
  std::vector<std::array<char, 3>> same(static_cast<std::size_t>(T), {0, 0, 0});
  std::vector<int> degree(static_cast<std::size_t>(T), 0);
  {
    const auto edges = directed_edges(tris);
    for (std::size_t i = 0; i < edges.size();) {
      std::size_t j = i;
      while (j < edges.size() && edges[j].key == edges[i].key) ++j;
      if (j - i == 2 && edges[i].tri != edges[i + 1].tri) {
        const auto& a = edges[i];
        const auto& b = edges[i + 1];
        const bool agree = a.dir == b.dir;  // both run the same way: one of them is flipped
        nb[a.tri][degree[a.tri]] = b.tri;
        same[a.tri][degree[a.tri]++] = agree;
        nb[b.tri][degree[b.tri]] = a.tri;
        same[b.tri][degree[b.tri]++] = agree;
      }
      i = j;
    }
  }
  std::vector<std::int32_t> patch(static_cast<std::size_t>(T), -1);
  std::vector<char> rel(static_cast<std::size_t>(T), 0);
  std::vector<std::vector<std::int32_t>> patches;
  std::vector<char> patch_closed;
  for (std::int32_t seed = 0; seed < T; ++seed) {
    if (patch[seed] >= 0) continue;
    const std::int32_t id = std::int32_t(patches.size());
    std::vector<std::int32_t> members{seed};
    patch[seed] = id;
    bool closed = true;
    double area[2] = {0, 0};
    for (std::size_t k = 0; k < members.size(); ++k) {
      const std::int32_t t = members[k];
      closed = closed && degree[t] == 3;
      area[int(rel[t])] += tri_area(s, tris[t]);
      for (int e = 0; e < degree[t]; ++e) {
        const std::int32_t u = nb[t][e];
        if (patch[u] >= 0) continue;  // already oriented (a conflict means non-orientable: keep)
        patch[u] = id;
        rel[u] = char(rel[t] ^ same[t][e]);
        members.push_back(u);
      }
    }
    const char majority = area[1] > area[0] ? 1 : 0;
    for (std::int32_t t : members)
      if (rel[t] != majority) flip(tris[t]);
    patches.push_back(std::move(members));
    patch_closed.push_back(closed);
  }

  // Step 3: closed shells of negative volume are cavities when inside the rest, else inverted.
  std::vector<std::int32_t> negative;
  for (std::size_t p = 0; p < patches.size(); ++p) {
    if (!patch_closed[p]) continue;
    double v = 0;
    for (std::int32_t t : patches[p]) v += tri_volume(s, tris[t]);
    if (v < 0) negative.push_back(std::int32_t(p));
  }
  if (!negative.empty()) {
    std::vector<char> candidate(static_cast<std::size_t>(T), 0);
    for (std::int32_t p : negative)
      for (std::int32_t t : patches[p]) candidate[t] = 1;
    std::vector<std::int32_t> rest;
    for (std::int32_t t = 0; t < T; ++t)
      if (!candidate[t]) rest.push_back(t);
    std::unique_ptr<mesh::WindingNumber> wn;
    mesh::Points pts(std::int64_t(s.vertices.size()), 3);
    for (std::size_t v = 0; v < s.vertices.size(); ++v) pts.row(Eigen::Index(v)) = s.vertices[v].transpose();
    if (!rest.empty()) {
      mesh::Triangles rt(Eigen::Index(rest.size()), 3);
      for (std::size_t k = 0; k < rest.size(); ++k)
        rt.row(Eigen::Index(k)) << tris[rest[k]][0], tris[rest[k]][1], tris[rest[k]][2];
      wn = std::make_unique<mesh::WindingNumber>(pts, rt);
    }
    for (std::int32_t p : negative) {
      // Probe at the centroid of the shell's largest triangle.
      std::int32_t big = patches[p].front();
      for (std::int32_t t : patches[p])
        if (tri_area(s, tris[t]) > tri_area(s, tris[big])) big = t;
      const Vector3d q = (s.vertices[tris[big][0]] + s.vertices[tris[big][1]] + s.vertices[tris[big][2]]) / 3;
      if (wn && (*wn)(q) >= 0.5) continue;  // a cavity
      for (std::int32_t t : patches[p]) flip(tris[t]);
      ++d.inverted_shells;
    }
  }
  double total = 0;
  for (const Tri& t : tris) total += tri_volume(s, t);
  if (total < 0) {  // inside out as a whole (open patches, which step 3 does not judge)
    for (Tri& t : tris) flip(t);
    ++d.inverted_shells;
  }
  for (std::int32_t t = 0; t < T; ++t) d.flipped += tris[t] != given[t] ? 1 : 0;

  // What remains: non-manifold and open edges.
  const auto edges = directed_edges(tris);
  for (std::size_t i = 0; i < edges.size();) {
    std::size_t j = i;
    int net = 0;
    for (; j < edges.size() && edges[j].key == edges[i].key; ++j) net += edges[j].dir;
    if (j - i > 2) ++d.nonmanifold_edges;
    if (net != 0) ++d.open_edges;
    i = j;
  }
  s.triangles = std::move(tris);
  return d;
}

}  // namespace flare::am
