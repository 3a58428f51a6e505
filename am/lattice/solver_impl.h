// The matrix-free voxel-lattice solver of the layer-by-layer inherent-strain model, written once
// against an execution policy (exec.h: HostExec, CudaExec). Included by solve_host.cpp and
// solve_cuda.cu only.
//
// Operator. Every element is the same unit cube, so one 24x24 K_e defines the fine operator: a
// node gathers K_e rows from its (up to 8) active cells, an element being active when it is solid
// and below the part's current top layer k_top (the build order is by layer, so one integer per
// part is the whole activity mask of a layer group).
//
// Preconditioner: one V-cycle of geometric multigrid on the voxel lattice, the CPU solver's
// hierarchy (am/multigrid.h): cells of doubled size, trilinear prolongation, Galerkin coarse
// operators stored per coarse cell (24x24, fp32), recomputed per layer group only in the slab of
// cells that the group's layers touch; a coarse DOF is fixed when a fixed fine DOF interpolates
// from it. Smoother: damped block-Jacobi, 2 pre and 2 post sweeps, omega = 4 / (3 lambda_max) per
// part and level with lambda_max(D^-1 A) from 12 power iterations per layer group (the CPU
// solver's smoother). Coarsening stops at 3x3x3 cells per part, whose <= 192 DOFs are inverted
// exactly. The first version (l1-Jacobi, which needs no estimate, and a single-cell coarsest
// level) took 556 CG iterations on a 940k-node part in 10 groups; this one takes 304.
// The V-cycle runs in fp32; CG, the operator it is preconditioning and every result in fp64.
//
// Batch: the parts' node and cell arrays are concatenated (each part's nodes start on a 128-node
// chunk, so a reduction chunk belongs to one part), every loop covers the whole batch, and CG
// carries one set of scalars per part; a converged part takes zero steps while the others go on.
//
// Birth displacements. Strains count from an element's activation. Layers activate bottom up, so
// an element's top nodes are always new (zero) at activation, and its bottom nodes can carry
// displacement only when its layer is the first of its group: storing u on that bottom plane at
// the start of each group (ub) gives every element's birth state in 3 doubles per node instead
// of 24 per element.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "am/lattice/exec.h"
#include "am/lattice/problem.h"
#include "common/error.h"

namespace flare::am::lattice {

struct LevelPart {
  int nx = 0, ny = 0, nz = 0;    // cells
  std::int64_t node_off = 0;     // first node, a multiple of kChunk
  std::int64_t cell_off = 0;     // first cell
  FLARE_HD std::int64_t nodes() const { return std::int64_t(nx + 1) * (ny + 1) * (nz + 1); }
};

struct KState {
  int k_prev = 0;  // fine layers active before the current group
  int k_top = 0;   // fine layers active now
};

// VTK hexahedron corners: 0 (0,0,0) 1 (1,0,0) 2 (1,1,0) 3 (0,1,0), 4..7 the same at z = 1.
FLARE_HD inline int corner_bit(int a, int axis) {
  return axis == 0 ? int((a & 3) == 1 || (a & 3) == 2) : axis == 1 ? int((a & 3) >= 2) : (a >> 2);
}
FLARE_HD inline int corner_of(int dx, int dy, int dz) { return 4 * dz + (dy ? (dx ? 2 : 3) : dx); }

// Trilinear weight of parent-cell corner `a` at child-cell corner `ac`, for the child at offset
// `o` (bit per axis) inside its parent: 0, 1/8, 1/4, 1/2 or 1.
FLARE_HD inline float child_weight(int o, int ac, int a) {
  float w = 1;
  for (int axis = 0; axis < 3; ++axis) {
    const float t = 0.5f * float(((o >> axis) & 1) + corner_bit(ac, axis));
    w *= corner_bit(a, axis) ? t : 1 - t;
  }
  return w;
}

// A level's arrays as raw pointers: captured by value in the loops (no `this` on the device).
struct LevelView {
  int level = 0;
  const LevelPart* parts = nullptr;
  const int* chunk_part = nullptr;      // [nodes / kChunk]
  const KState* kstate = nullptr;       // [parts]
  const std::uint8_t* solid = nullptr;  // level 0: [cells]
  const int* slot_of_cell = nullptr;    // level >= 1: [cells], -1 = never active
  const std::uint8_t* slot_active = nullptr;  // [slots]
  const float* mat = nullptr;           // [slots, 576]
  const std::uint8_t* free = nullptr;   // [nodes] bit c: DOF c is free
  const std::uint8_t* active = nullptr; // [nodes]
  const float* dinv = nullptr;          // [nodes, 9]

  struct At {
    int p = 0, i = 0, j = 0, k = 0;
    bool valid = false;
  };
  FLARE_HD At locate(std::int64_t n) const {
    At at;
    at.p = chunk_part[n / kChunk];
    const LevelPart& lp = parts[at.p];
    const std::int64_t local = n - lp.node_off;
    const int nxn = lp.nx + 1, nyn = lp.ny + 1;
    at.valid = local < lp.nodes();
    if (at.valid) {
      at.i = int(local % nxn);
      const std::int64_t t = local / nxn;
      at.j = int(t % nyn);
      at.k = int(t / nyn);
    }
    return at;
  }
  FLARE_HD int part_of(std::int64_t n) const { return chunk_part[n / kChunk]; }
  FLARE_HD std::int64_t node(const LevelPart& lp, int i, int j, int k) const {
    return lp.node_off + i + std::int64_t(lp.nx + 1) * (j + std::int64_t(lp.ny + 1) * k);
  }
  FLARE_HD std::int64_t cell(const LevelPart& lp, int i, int j, int k) const {
    return lp.cell_off + i + std::int64_t(lp.nx) * (j + std::int64_t(lp.ny) * k);
  }
  // Fine element (level 0) or coarse cell (level >= 1) active now.
  FLARE_HD bool cell_active(int p, const LevelPart& lp, int i, int j, int k) const {
    if (i < 0 || j < 0 || k < 0 || i >= lp.nx || j >= lp.ny || k >= lp.nz) return false;
    const std::int64_t c = cell(lp, i, j, k);
    if (level == 0) return solid[c] && k < kstate[p].k_top;
    const int s = slot_of_cell[c];
    return s >= 0 && slot_active[s];
  }
  // Coarsest level: whether DOF d of the part's dense matrix (component d % 3 of its box node
  // d / 3) is free; slots past the box's nodes are not.
  FLARE_HD bool dense_free(const LevelPart& lp, std::int64_t d) const {
    return d < 3 * lp.nodes() && ((free[lp.node_off + d / 3] >> (d % 3)) & 1);
  }
  // A node is active when one of its (up to 8) cells is.
  FLARE_HD bool node_active(const At& at) const {
    if (!at.valid) return false;
    const LevelPart& lp = parts[at.p];
    for (int d = 0; d < 8; ++d)
      if (cell_active(at.p, lp, at.i - (d & 1), at.j - ((d >> 1) & 1), at.k - (d >> 2))) return true;
    return false;
  }
  // The cell's matrix (the unit K_e at level 0), nullptr when inactive.
  template <typename M>
  FLARE_HD const M* cell_matrix(int p, const LevelPart& lp, int i, int j, int k, const M* ke) const {
    if (!cell_active(p, lp, i, j, k)) return nullptr;
    if (level == 0) return ke;
    return reinterpret_cast<const M*>(mat + std::int64_t(slot_of_cell[cell(lp, i, j, k)]) * 576);
  }
};

// f(fine node, trilinear weight) for every node of the finer level `fv` that interpolates from
// coarse node `at`: the (up to) 27 around its position 2 (i, j, k).
template <typename F>
FLARE_HD inline void for_each_fine_node(const LevelView& fv, const LevelView::At& at, const F& f) {
  const LevelPart& fp = fv.parts[at.p];
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int fi = 2 * at.i + dx, fj = 2 * at.j + dy, fk = 2 * at.k + dz;
        if (fi < 0 || fj < 0 || fk < 0 || fi > fp.nx || fj > fp.ny || fk > fp.nz) continue;
        f(fv.node(fp, fi, fj, fk), (dx ? 0.5f : 1.0f) * (dy ? 0.5f : 1.0f) * (dz ? 0.5f : 1.0f));
      }
}

// Cell d's (d = dx + 2 dy + 4 dz, the cell at node - (dx, dy, dz)) share of (A x) at node n
// (rows 3n..3n+2), unmasked, zero where the cell is inactive; M the matrix type, T the vector type.
template <typename T, typename M>
FLARE_HD inline Vec3<T> apply_cell(const LevelView& v, std::int64_t n, int d, const M* ke, const T* x) {
  Vec3<T> acc{{T(0), T(0), T(0)}};
  const LevelView::At at = v.locate(n);
  const LevelPart& lp = v.parts[at.p];
  const int dx = d & 1, dy = (d >> 1) & 1, dz = d >> 2;
  const int ci = at.i - dx, cj = at.j - dy, ck = at.k - dz;
  const M* m = v.cell_matrix<M>(at.p, lp, ci, cj, ck, ke);
  if (!m) return acc;
  const M* row = m + 72 * corner_of(dx, dy, dz);
  for (int b = 0; b < 8; ++b) {
    const std::int64_t nb = 3 * v.node(lp, ci + corner_bit(b, 0), cj + corner_bit(b, 1), ck + corner_bit(b, 2));
    const T x0 = x[nb], x1 = x[nb + 1], x2 = x[nb + 2];
    for (int r = 0; r < 3; ++r)
      acc.v[r] += T(row[24 * r + 3 * b]) * x0 + T(row[24 * r + 3 * b + 1]) * x1 + T(row[24 * r + 3 * b + 2]) * x2;
  }
  return acc;
}

// Entry (row, col) of W_o^T m W_o: the share of a child cell at offset o (24x24 matrix m) in its
// parent cell's Galerkin matrix, summed over the nonzero trilinear weights only (the wtab_* tables
// of Solver: for offset o and parent corner a, wn[8 o + a] child corners wc[8 (8 o + a) + x] with
// weights ww[...]).
template <typename S, typename M>
FLARE_HD inline S galerkin_share(int o, int row, int col, const M* m, const float* ww, const int* wc, const int* wn) {
  const int a = row / 3, rr = row % 3, b = col / 3, c = col % 3;
  const int ka = 8 * (8 * o + a), kb = 8 * (8 * o + b);
  S sum = 0;
  for (int x = 0; x < wn[8 * o + a]; ++x) {
    const M* mrow = m + (3 * wc[ka + x] + rr) * 24 + c;
    S t = 0;
    for (int y = 0; y < wn[8 * o + b]; ++y) t += S(ww[kb + y]) * S(mrow[3 * wc[kb + y]]);
    sum += S(ww[ka + x]) * t;
  }
  return sum;
}

// The element's displacement since its birth, u_e - u_birth,e (24 values), of cell (ci, cj, ck):
// only the bottom nodes can have moved before the element was born (UB; see the top of the file).
FLARE_HD inline void element_strain_state(const LevelView& v, const LevelPart& lp, int ci, int cj, int ck,
                                          const double* U, const double* UB, double ue[24]) {
  for (int b = 0; b < 8; ++b) {
    const std::int64_t nb = 3 * v.node(lp, ci + corner_bit(b, 0), cj + corner_bit(b, 1), ck + corner_bit(b, 2));
    const bool bottom = corner_bit(b, 2) == 0;
    for (int c = 0; c < 3; ++c) ue[3 * b + c] = U[nb + c] - (bottom ? UB[nb + c] : 0.0);
  }
}

// Power iterations for lambda_max(D^-1 A): they approach it from below, hence the margin.
constexpr int kPowerIterations = 12;
constexpr double kLambdaMargin = 1.1;

template <typename Ex>
struct Solver {
  template <typename T>
  using Arr = typename Ex::template Array<T>;

  struct Level {
    std::vector<LevelPart> hparts;
    Arr<LevelPart> parts;
    std::int64_t nodes = 0, cells = 0, slots = 0;
    Arr<int> chunk_part;            // [nodes / kChunk] part of each node chunk
    // The nodes that can ever be active (a cell around them holds material), each part's run
    // padded with -1 to whole chunks: every loop runs over this list, not the parts' boxes, which
    // hold several times more nodes (7x on an L-bracket).
    Arr<std::int64_t> list;
    std::int64_t list_size = 0, list_chunks = 0;
    Arr<std::int64_t> list_chunk_begin;  // [parts + 1]
    Arr<std::uint8_t> solid;        // level 0
    Arr<int> slot_of_cell, slot_cell, slot_part;
    Arr<std::uint8_t> slot_active;
    Arr<float> mat;
    Arr<std::uint8_t> free, active;
    Arr<float> dinv;
    Arr<float> x, t, b;  // V-cycle: iterate, result, right-hand side
  };

  const Problem& pb;
  const Ex& ex;
  int parts = 0;
  std::vector<Level> lv;
  Arr<KState> kstate;
  std::vector<KState> hk;
  Arr<double> ke_d, fe, bbar, dmat, eps;
  Arr<float> ke_f, child_c;  // child_c: [8, 576] W_o^T K_e W_o, the level-1 share of a child
  // Nonzero trilinear weights: for child offset o and parent corner a, wtab_n[8 o + a] child
  // corners wtab_c[8 (8 o + a) + x] with weights wtab_w[...] (at most 8, 3.4 on average).
  Arr<float> wtab_w;
  Arr<int> wtab_c, wtab_n;
  Arr<double> u, ub, x, r, z, p, q, f;
  Arr<double> partial, s_bb, s_rr, s_rz, s_pq, s_alpha, s_beta, s_ww, s_vv;
  Arr<float> omega;  // [levels, parts] smoother damping
  Arr<int> done, iters, not_done;
  Arr<double> tol2;  // [parts] squared CG relative residual (Part::rtol, else Problem::rtol)
  Arr<float> coarse_inv;             // [parts, kDense, kDense]
  Arr<std::int64_t> support;         // [parts, 6] level-0 DOF indices
  Arr<std::int64_t> held;            // level-0 nodes held fixed in the current group
  Arr<std::uint8_t> supported;       // [level-0 nodes] held by supports during the build
  std::int64_t held_count = 0;
  int groups = 0;

  // FLARE_LATTICE_PROFILE=1: wall time per phase (synchronised around each, so it slows the
  // solve a little), printed to stderr at the end of run().
  struct Profile {
    bool on = false;
    double setup = 0, operators = 0, cg = 0, precondition = 0, finish = 0;
    double masks = 0, galerkin = 0, blocks = 0, omega = 0, coarsest = 0;  // operators' parts
    long loops = 0;  // CG loop trips (the batch's, not per part)
  } prof;
  template <typename F>
  void timed(double& acc, const F& f) {
    if (!prof.on) return f();
    ex.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ex.synchronize();
    acc += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  Solver(const Problem& problem, const Ex& e) : pb(problem), ex(e) {
    const char* v = std::getenv("FLARE_LATTICE_PROFILE");
    prof.on = v && v[0] == '1';
    const char* g = std::getenv("FLARE_LATTICE_GRAPHS");
    graphs = !prof.on && !(g && g[0] == '0');
  }

  LevelView view(int l) {
    Level& L = lv[l];
    LevelView v;
    v.level = l;
    v.parts = L.parts.data();
    v.chunk_part = L.chunk_part.data();
    v.kstate = kstate.data();
    v.solid = L.solid.data();
    v.slot_of_cell = L.slot_of_cell.data();
    v.slot_active = L.slot_active.data();
    v.mat = L.mat.data();
    v.free = L.free.data();
    v.active = L.active.data();
    v.dinv = L.dinv.data();
    return v;
  }

  // ---- setup ----------------------------------------------------------------------------------

  // The level's node list: per part, in node order, the nodes next to a cell that ever holds
  // material (every other node stays inactive, so its entries stay zero), padded to whole chunks.
  void build_list(Level& L, const std::vector<char>& has_solid) {
    std::vector<std::int64_t> list, chunk_begin{0};
    for (int p = 0; p < parts; ++p) {
      const LevelPart& lp = L.hparts[std::size_t(p)];
      const std::size_t first = list.size();
      for (int k = 0; k <= lp.nz; ++k)
        for (int j = 0; j <= lp.ny; ++j)
          for (int i = 0; i <= lp.nx; ++i) {
            bool any = false;
            for (int d = 0; d < 8 && !any; ++d) {
              const int ci = i - (d & 1), cj = j - ((d >> 1) & 1), ck = k - (d >> 2);
              if (ci < 0 || cj < 0 || ck < 0 || ci >= lp.nx || cj >= lp.ny || ck >= lp.nz) continue;
              any = has_solid[std::size_t(lp.cell_off + ci + std::int64_t(lp.nx) * (cj + std::int64_t(lp.ny) * ck))];
            }
            if (any) list.push_back(lp.node_off + i + std::int64_t(lp.nx + 1) * (j + std::int64_t(lp.ny + 1) * k));
          }
      const std::size_t chunks = std::max<std::size_t>(1, (list.size() - first + kChunk - 1) / kChunk);
      list.resize(first + chunks * kChunk, -1);
      chunk_begin.push_back(chunk_begin.back() + std::int64_t(chunks));
    }
    L.list_size = std::int64_t(list.size());
    L.list_chunks = chunk_begin.back();
    L.list.upload(list);
    L.list_chunk_begin.upload(chunk_begin);
  }

  // Inside a CG solve, the parts flagged here (converged ones) are left alone by every loop below:
  // a batch iterates until its slowest part converges, and the others' arithmetic would be thrown
  // away (alpha and beta are zero for them), so skipping it changes no result.
  const int* skip = nullptr;

  // CUDA graphs (exec_cuda.cuh) for the loop sequences that repeat: off under FLARE_LATTICE_PROFILE
  // (its timers synchronise inside them) and with FLARE_LATTICE_GRAPHS=0 (the test that replays
  // and direct launches agree).
  bool graphs = true;
  typename Ex::Graph g_operators, g_step, g_direction;
  template <typename F>
  void recorded(typename Ex::Graph& g, const F& f) {
    if (graphs)
      ex.graph(g, f);
    else
      f();
  }

  // f(n) for the nodes of level l's list; f(n, c) for their 3 DOFs.
  template <typename F>
  void for_nodes(int l, const F& f) {
    if (!skip) return ex.forall_list(lv[l].list.data(), lv[l].list_size, f);
    const int *sk = skip, *cp = lv[l].chunk_part.data();
    ex.forall_list(lv[l].list.data(), lv[l].list_size, [=] FLARE_HD(std::int64_t n) {
      if (!sk[cp[n / kChunk]]) f(n);
    });
  }
  // finish(n, A x at n) over level l's list, A x gathered from each free node's 8 cells.
  template <typename T, typename M, typename F>
  void for_node_products(int l, const M* ke, const T* xin, const F& finish) {
    const LevelView v = view(l);
    const int* sk = skip;
    ex.template forall_node_cells<T>(
        lv[l].list.data(), lv[l].list_size,
        [=] FLARE_HD(std::int64_t n, int d) -> Vec3<T> {
          if (!xin || !v.free[n] || (sk && sk[v.part_of(n)])) return Vec3<T>{{T(0), T(0), T(0)}};
          return apply_cell<T, M>(v, n, d, ke, xin);
        },
        [=] FLARE_HD(std::int64_t n, Vec3<T> ax) {
          if (!sk || !sk[v.part_of(n)]) finish(n, ax);
        });
  }
  // Sum of f(n) per part over level l's list (zero for skipped parts).
  template <typename F>
  void sum_nodes(int l, double* out, const F& f) {
    Level& L = lv[l];
    if (!skip) return ex.part_sum(parts, L.list_chunk_begin.data(), L.list_chunks, L.list.data(), partial.data(), out, f);
    const int *sk = skip, *cp = L.chunk_part.data();
    ex.part_sum(parts, L.list_chunk_begin.data(), L.list_chunks, L.list.data(), partial.data(), out,
                [=] FLARE_HD(std::int64_t n) { return sk[cp[n / kChunk]] ? 0.0 : f(n); });
  }

  void setup() {
    parts = int(pb.parts.size());
    FLARE_CHECK(parts > 0, "lattice solver: no parts");
    // Levels: halve every part's cell box (rounding up) until each is at most kCoarsestCells.
    std::vector<std::array<int, 3>> dims(parts);
    for (int i = 0; i < parts; ++i) dims[i] = {pb.parts[i].nx, pb.parts[i].ny, pb.parts[i].nz};
    std::vector<std::vector<std::array<int, 3>>> level_dims{dims};
    auto small = [](const std::vector<std::array<int, 3>>& d) {
      for (const auto& x : d)
        if (x[0] > kCoarsestCells || x[1] > kCoarsestCells || x[2] > kCoarsestCells) return false;
      return true;
    };
    while (!small(level_dims.back())) {
      auto next = level_dims.back();
      for (auto& x : next)
        for (int& n : x) n = (n + 1) / 2;
      level_dims.push_back(next);
    }
    lv.resize(level_dims.size());
    std::vector<std::vector<char>> has_solid(lv.size());  // per level: cell holds a solid element
    for (std::size_t l = 0; l < lv.size(); ++l) {
      Level& L = lv[l];
      L.hparts.resize(parts);
      std::vector<int> chunk_part;
      for (int i = 0; i < parts; ++i) {
        LevelPart& lp = L.hparts[i];
        lp.nx = level_dims[l][i][0];
        lp.ny = level_dims[l][i][1];
        lp.nz = level_dims[l][i][2];
        lp.node_off = L.nodes;
        lp.cell_off = L.cells;
        const std::int64_t c = (lp.nodes() + kChunk - 1) / kChunk;
        L.nodes += c * kChunk;
        L.cells += std::int64_t(lp.nx) * lp.ny * lp.nz;
        chunk_part.insert(chunk_part.end(), std::size_t(c), i);
      }
      L.parts.upload(L.hparts);
      L.chunk_part.upload(chunk_part);
      // Cells that ever hold material; level >= 1 stores a matrix for each.
      has_solid[l].assign(std::size_t(L.cells), 0);
      for (int i = 0; i < parts; ++i) {
        const LevelPart& lp = L.hparts[i];
        for (int k = 0; k < lp.nz; ++k)
          for (int j = 0; j < lp.ny; ++j)
            for (int ii = 0; ii < lp.nx; ++ii) {
              const std::int64_t c = lp.cell_off + ii + std::int64_t(lp.nx) * (j + std::int64_t(lp.ny) * k);
              char s = 0;
              if (l == 0) {
                s = char(pb.parts[i].solid[std::size_t(c - lp.cell_off)] != 0);
              } else {
                const LevelPart& fp = lv[l - 1].hparts[i];
                for (int o = 0; o < 8 && !s; ++o) {
                  const int fi = 2 * ii + (o & 1), fj = 2 * j + ((o >> 1) & 1), fk = 2 * k + (o >> 2);
                  if (fi < fp.nx && fj < fp.ny && fk < fp.nz)
                    s = has_solid[l - 1][std::size_t(fp.cell_off + fi + std::int64_t(fp.nx) * (fj + std::int64_t(fp.ny) * fk))];
                }
              }
              has_solid[l][std::size_t(c)] = s;
            }
      }
      build_list(L, has_solid[l]);
      if (l == 0) {
        L.solid.upload(std::vector<std::uint8_t>(has_solid[0].begin(), has_solid[0].end()));
      } else {
        std::vector<int> slot_of_cell(std::size_t(L.cells), -1), slot_cell, slot_part;
        for (int i = 0; i < parts; ++i) {
          const LevelPart& lp = L.hparts[i];
          for (std::int64_t c = lp.cell_off; c < lp.cell_off + std::int64_t(lp.nx) * lp.ny * lp.nz; ++c)
            if (has_solid[l][std::size_t(c)]) {
              slot_of_cell[std::size_t(c)] = int(slot_cell.size());
              slot_cell.push_back(int(c));
              slot_part.push_back(i);
            }
        }
        L.slots = std::int64_t(slot_cell.size());
        L.slot_of_cell.upload(slot_of_cell);
        L.slot_cell.upload(slot_cell);
        L.slot_part.upload(slot_part);
        L.slot_active.resize(std::size_t(L.slots), "coarse cell flags");
        L.mat.resize(std::size_t(L.slots) * 576, "coarse operators");
      }
      L.free.resize(std::size_t(L.nodes), "free masks");
      L.active.resize(std::size_t(L.nodes), "active masks");
      L.dinv.resize(std::size_t(L.nodes) * 9, "smoother blocks");
      L.x.resize(std::size_t(3 * L.nodes), "multigrid vectors");
      L.t.resize(std::size_t(3 * L.nodes), "multigrid vectors");
      L.b.resize(std::size_t(3 * L.nodes), "multigrid vectors");
    }

    const std::int64_t n0 = lv[0].nodes;
    for (Arr<double>* a : {&u, &ub, &x, &r, &z, &p, &q, &f}) a->resize(std::size_t(3 * n0), "solver vectors");
    std::int64_t most_chunks = 1;
    for (const Level& L : lv) most_chunks = std::max(most_chunks, L.list_chunks);
    partial.resize(std::size_t(most_chunks), "reduction scratch");
    for (Arr<double>* a : {&s_bb, &s_rr, &s_rz, &s_pq, &s_alpha, &s_beta, &s_ww, &s_vv})
      a->resize(std::size_t(parts), "CG scalars");
    omega.resize(lv.size() * std::size_t(parts), "smoother damping");
    done.resize(std::size_t(parts));
    std::vector<double> t2(static_cast<std::size_t>(parts), 0.0);
    for (int i = 0; i < parts; ++i) {
      const double rt = pb.parts[std::size_t(i)].rtol > 0 ? pb.parts[std::size_t(i)].rtol : pb.rtol;
      t2[std::size_t(i)] = rt * rt;
    }
    tol2.upload(t2);
    iters.resize(std::size_t(parts));
    not_done.resize(1);
    coarse_inv.resize(std::size_t(parts) * kDense * kDense, "coarsest inverses");
    hk.assign(std::size_t(parts), KState{});
    kstate.upload(hk);

    // Tables: the unit element, in both precisions, and the level-1 share of each child offset.
    std::vector<double> ke(pb.ke.begin(), pb.ke.end());
    ke_d.upload(ke);
    ke_f.upload(std::vector<float>(ke.begin(), ke.end()));
    std::vector<float> tw(512, 0.0f);
    std::vector<int> tc(512, 0), tn(64, 0);
    for (int o = 0; o < 8; ++o)
      for (int a = 0; a < 8; ++a)
        for (int ac = 0; ac < 8; ++ac) {
          const float w = child_weight(o, ac, a);
          if (w == 0) continue;
          int& n = tn[std::size_t(8 * o + a)];
          tc[std::size_t(8 * (8 * o + a) + n)] = ac;
          tw[std::size_t(8 * (8 * o + a) + n)] = w;
          ++n;
        }
    wtab_w.upload(tw);
    wtab_c.upload(tc);
    wtab_n.upload(tn);
    std::vector<float> cc(8 * 576);
    for (int o = 0; o < 8; ++o)
      for (int e = 0; e < 576; ++e)
        cc[std::size_t(o * 576 + e)] = float(galerkin_share<double>(o, e / 24, e % 24, ke.data(), tw.data(), tc.data(), tn.data()));
    child_c.upload(cc);
    fe.upload(std::vector<double>(pb.fe.begin(), pb.fe.end()));
    bbar.upload(std::vector<double>(pb.bbar.begin(), pb.bbar.end()));
    dmat.upload(std::vector<double>(pb.d.begin(), pb.d.end()));
    eps.upload(std::vector<double>(pb.eps.begin(), pb.eps.end()));
    std::vector<std::int64_t> sup(std::size_t(parts) * 6);
    for (int i = 0; i < parts; ++i)
      for (int k = 0; k < 6; ++k) {
        const std::int64_t dof = pb.parts[i].support[k];
        sup[std::size_t(6 * i + k)] = 3 * lv[0].hparts[i].node_off + dof;
      }
    support.upload(sup);
    for (const Part& pt : pb.parts) groups = std::max(groups, int(pt.k_top.size()));
    std::size_t most_held = 1;
    for (int g = 0; g < groups; ++g) {
      std::size_t n = 0;
      for (const Part& pt : pb.parts) n += g < int(pt.held.size()) ? pt.held[std::size_t(g)].size() : 0;
      most_held = std::max(most_held, n);
    }
    held.resize(most_held, "held nodes");
    std::vector<std::uint8_t> sup_mask(std::size_t(lv[0].nodes), 0);
    for (int i = 0; i < parts; ++i) {
      const Part& pt = pb.parts[std::size_t(i)];
      for (std::size_t n = 0; n < pt.supported.size(); ++n)
        sup_mask[std::size_t(lv[0].hparts[std::size_t(i)].node_off) + n] = pt.supported[n];
    }
    supported.upload(sup_mask);
  }

  // ---- operators and masks per layer group ------------------------------------------------------

  void level0_masks(bool release) {
    const LevelView v = view(0);
    std::uint8_t* free = lv[0].free.data();
    std::uint8_t* active = lv[0].active.data();
    const std::uint8_t* sup = supported.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      const LevelView::At at = v.locate(n);
      const bool act = v.node_active(at);
      active[n] = act;
      free[n] = act && (release || (at.k > 0 && !sup[n])) ? 7 : 0;
    });
    if (held_count > 0) {
      const std::int64_t* h = held.data();
      ex.forall(held_count, [=] FLARE_HD(std::int64_t i) { free[h[i]] = 0; });
    }
    if (release) {
      const std::int64_t* fix = support.data();
      ex.forall(parts, [=] FLARE_HD(std::int64_t pi) {  // one thread per part: no shared bytes
        for (int k = 0; k < 6; ++k) {
          const std::int64_t dof = fix[6 * pi + k];
          free[dof / 3] &= std::uint8_t(~(1u << (dof % 3)));
        }
      });
    }
  }

  // Galerkin operators of level l's cells in the layers the current group touched.
  void coarse_update(int l) {
    const LevelView v = view(l), fv = view(l - 1);
    Level& L = lv[l];
    const int* slot_cell = L.slot_cell.data();
    const int* slot_part = L.slot_part.data();
    float* mat = L.mat.data();
    std::uint8_t* slot_active = L.slot_active.data();
    const float* cc = child_c.data();
    const float* ww = wtab_w.data();
    const int* wc = wtab_c.data();
    const int* wn = wtab_n.data();
    const KState* ks = kstate.data();
    ex.forall(L.slots * 576, [=] FLARE_HD(std::int64_t idx) {
      const std::int64_t s = idx / 576;
      const int e = int(idx % 576);
      const int p = slot_part[s];
      const LevelPart& lp = v.parts[p];
      const std::int64_t local = slot_cell[s] - lp.cell_off;
      const int ci = int(local % lp.nx), cj = int((local / lp.nx) % lp.ny), ck = int(local / (std::int64_t(lp.nx) * lp.ny));
      const KState k = ks[p];
      if (k.k_top <= k.k_prev || ck < (k.k_prev >> l) || ck > ((k.k_top - 1) >> l)) return;
      const LevelPart& fp = fv.parts[p];
      const int row = e / 24, col = e % 24;
      float sum = 0;
      bool any = false;
      for (int o = 0; o < 8; ++o) {
        const int fi = 2 * ci + (o & 1), fj = 2 * cj + ((o >> 1) & 1), fk = 2 * ck + (o >> 2);
        if (!fv.cell_active(p, fp, fi, fj, fk)) continue;
        any = true;
        if (l == 1) {
          sum += cc[o * 576 + e];
          continue;
        }
        const float* m = fv.mat + std::int64_t(fv.slot_of_cell[fv.cell(fp, fi, fj, fk)]) * 576;
        sum += galerkin_share<float>(o, row, col, m, ww, wc, wn);
      }
      mat[s * 576 + e] = sum;
      if (e == 0) slot_active[s] = any;
    });
  }

  // Level l >= 1: a node is active with an active cell; DOF c is fixed when a fixed fine DOF c
  // interpolates from it.
  void coarse_masks(int l) {
    const LevelView v = view(l), fv = view(l - 1);
    std::uint8_t* free = lv[l].free.data();
    std::uint8_t* active = lv[l].active.data();
    for_nodes(l, [=] FLARE_HD(std::int64_t n) {
      const LevelView::At at = v.locate(n);
      const bool act = v.node_active(at);
      std::uint8_t bits = act ? 7 : 0;
      if (act) {
        for_each_fine_node(fv, at, [&](std::int64_t fn, float) {
          if (fv.active[fn]) bits &= fv.free[fn];
        });
      }
      active[n] = act;
      free[n] = bits;
    });
  }

  // Block-Jacobi: the inverse of each node's 3x3 diagonal block on its free DOFs.
  void smoother_blocks(int l) {
    const LevelView v = view(l);
    float* dinv = lv[l].dinv.data();
    const float* ke = ke_f.data();
    for_nodes(l, [=] FLARE_HD(std::int64_t n) {
      float s[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      const LevelView::At at = v.locate(n);
      const std::uint8_t fr = v.free[n];
      if (at.valid && fr) {
        const LevelPart& lp = v.parts[at.p];
        for (int d = 0; d < 8; ++d) {
          const int dx = d & 1, dy = (d >> 1) & 1, dz = d >> 2;
          const float* m = v.cell_matrix<float>(at.p, lp, at.i - dx, at.j - dy, at.k - dz, ke);
          if (!m) continue;
          const int a = corner_of(dx, dy, dz);
          for (int rr = 0; rr < 3; ++rr)
            for (int c = 0; c < 3; ++c) s[3 * rr + c] += m[(3 * a + rr) * 24 + 3 * a + c];
        }
      }
      for (int rr = 0; rr < 3; ++rr) {
        if (!((fr >> rr) & 1)) {
          for (int c = 0; c < 3; ++c) s[3 * rr + c] = s[3 * c + rr] = 0;
          s[4 * rr] = 1;
        }
      }
      const float c00 = s[4] * s[8] - s[5] * s[7], c01 = s[5] * s[6] - s[3] * s[8], c02 = s[3] * s[7] - s[4] * s[6];
      const float det = s[0] * c00 + s[1] * c01 + s[2] * c02;
      const float id = det != 0 ? 1 / det : 0;
      float inv[9] = {c00 * id, (s[2] * s[7] - s[1] * s[8]) * id, (s[1] * s[5] - s[2] * s[4]) * id,
                      c01 * id, (s[0] * s[8] - s[2] * s[6]) * id, (s[2] * s[3] - s[0] * s[5]) * id,
                      c02 * id, (s[1] * s[6] - s[0] * s[7]) * id, (s[0] * s[4] - s[1] * s[3]) * id};
      for (int rr = 0; rr < 3; ++rr)
        for (int c = 0; c < 3; ++c)
          if (!((fr >> rr) & 1) || !((fr >> c) & 1)) inv[3 * rr + c] = 0;
      for (int k = 0; k < 9; ++k) dinv[9 * n + k] = inv[k];
    });
  }

  // omega = 4 / (3 lambda_max(D^-1 A)) of every part at level l, by power iteration from a fixed
  // start (the CPU multigrid's rule); x and t of the level are the iteration's vectors.
  void estimate_omega(int l) {
    const LevelView v = view(l);
    Level& L = lv[l];
    float* vec = L.x.data();
    float* w = L.t.data();
    const float* ke = ke_f.data();
    const int* cp = L.chunk_part.data();
    double *ww = s_ww.data(), *vv = s_vv.data();
    float* om = omega.data() + std::int64_t(l) * parts;
    // The start depends on the part's own DOF numbering, not on where the batch put it: a part's
    // bits are those of its solve alone (datasets do not depend on how parts were batched).
    for_nodes(l, [=] FLARE_HD(std::int64_t n) {
      const std::int64_t first = 3 * v.parts[v.part_of(n)].node_off;
      for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i)
        vec[i] = ((v.free[n] >> (i % 3)) & 1) ? 1.0f + 0.5f * float(std::sin(7.0 * double(i - first))) : 0.0f;
    });
    auto level_sum = [&](const float* a, double* out) {
      sum_nodes(l, out, [=] FLARE_HD(std::int64_t n) {
        return double(a[3 * n]) * a[3 * n] + double(a[3 * n + 1]) * a[3 * n + 1] + double(a[3 * n + 2]) * a[3 * n + 2];
      });
    };
    for (int it = 0; it < kPowerIterations; ++it) {
      for_node_products<float, float>(l, ke, vec, [=] FLARE_HD(std::int64_t n, Vec3<float> ax) {
        const std::uint8_t fr = v.free[n];
        const float* di = v.dinv + 9 * n;
        for (int c = 0; c < 3; ++c)
          w[3 * n + c] = ((fr >> c) & 1) ? di[3 * c] * ax.v[0] + di[3 * c + 1] * ax.v[1] + di[3 * c + 2] * ax.v[2] : 0.0f;
      });
      level_sum(w, ww);
      level_sum(vec, vv);
      for_nodes(l, [=] FLARE_HD(std::int64_t n) {
        const double s = ww[cp[n / kChunk]];
        for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) vec[i] = s > 0 ? float(double(w[i]) / std::sqrt(s)) : 0.0f;
      });
    }
    const int np = parts;
    ex.forall(np, [=] FLARE_HD(std::int64_t p) {
      const double lambda = vv[p] > 0 ? std::sqrt(ww[p] / vv[p]) : 0.0;
      om[p] = lambda > 0 ? float(4.0 / (3.0 * kLambdaMargin * lambda)) : 0.5f;
    });
  }

  // The coarsest level, dense and inverted: DOF 3 q + c of a part is component c of its q-th box
  // node (the level's own node order); fixed DOFs and unused slots get identity rows, inverted
  // and zeroed again, so they drop out of the solve.
  void coarsest_inverse() {
    const int lc = int(lv.size()) - 1;
    const LevelView v = view(lc);
    float* inv = coarse_inv.data();
    const double* ke = ke_d.data();
    ex.forall(parts, [=] FLARE_HD(std::int64_t pi) {
      const int p = int(pi);
      const LevelPart& lp = v.parts[p];
      float* a = inv + std::int64_t(p) * kDense * kDense;
      for (int e = 0; e < kDense * kDense; ++e) a[e] = 0;
      for (int ck = 0; ck < lp.nz; ++ck)
        for (int cj = 0; cj < lp.ny; ++cj)
          for (int ci = 0; ci < lp.nx; ++ci) {
            if (!v.cell_active(p, lp, ci, cj, ck)) continue;
            const double* md = lc == 0 ? ke : nullptr;
            const float* mf = lc == 0 ? nullptr : v.mat + std::int64_t(v.slot_of_cell[v.cell(lp, ci, cj, ck)]) * 576;
            int q[8];
            for (int c = 0; c < 8; ++c)
              q[c] = int(v.node(lp, ci + corner_bit(c, 0), cj + corner_bit(c, 1), ck + corner_bit(c, 2)) - lp.node_off);
            for (int r = 0; r < 24; ++r)
              for (int e = 0; e < 24; ++e)
                a[(3 * q[r / 3] + r % 3) * kDense + 3 * q[e / 3] + e % 3] += md ? float(md[24 * r + e]) : mf[24 * r + e];
          }
      for (int d = 0; d < kDense; ++d) {
        if (v.dense_free(lp, d)) continue;
        for (int e = 0; e < kDense; ++e) a[d * kDense + e] = a[e * kDense + d] = 0;
        a[d * kDense + d] = 1;
      }
    });
    ex.invert_spd(inv, kDense, parts);
    ex.forall(std::int64_t(parts) * kDense, [=] FLARE_HD(std::int64_t idx) {
      const int p = int(idx / kDense), d = int(idx % kDense);
      if (v.dense_free(v.parts[p], d)) return;
      float* a = inv + std::int64_t(p) * kDense * kDense;
      for (int e = 0; e < kDense; ++e) a[d * kDense + e] = 0;  // rows only: columns are zero
    });
  }

  void update_operators(bool release) {
    timed(prof.masks, [&] { level0_masks(release); });
    // The rest launches the same kernels on the same buffers in every group (the group itself is
    // in kstate, on the device): one graph, recorded in the first group. The release's sequence
    // has no Galerkin update and runs once.
    auto coarse = [&] {
      if (!release)
        timed(prof.galerkin, [&] {
          for (std::size_t l = 1; l < lv.size(); ++l) coarse_update(int(l));
        });
      timed(prof.masks, [&] {
        for (std::size_t l = 1; l < lv.size(); ++l) coarse_masks(int(l));
      });
      for (std::size_t l = 0; l + 1 < lv.size(); ++l) {
        timed(prof.blocks, [&] { smoother_blocks(int(l)); });
        timed(prof.omega, [&] { estimate_omega(int(l)); });
      }
      timed(prof.coarsest, [&] { coarsest_inverse(); });
    };
    if (release)
      coarse();
    else
      recorded(g_operators, coarse);
  }

  // ---- the V-cycle (fp32) ---------------------------------------------------------------------

  // out = in + Dinv (b - A in), or out = Dinv b when in is null; masked.
  void smooth(int l, const float* in, float* out) {
    const LevelView v = view(l);
    const float* b = lv[l].b.data();
    const float* ke = ke_f.data();
    const float* om = omega.data() + std::int64_t(l) * parts;
    for_node_products<float, float>(l, ke, in, [=] FLARE_HD(std::int64_t n, Vec3<float> ax) {
      float res[3] = {0, 0, 0};
      float w = 0;
      const std::uint8_t fr = v.free[n];
      if (fr) {
        for (int c = 0; c < 3; ++c) res[c] = b[3 * n + c] - ax.v[c];
        w = om[v.part_of(n)];
      }
      const float* di = v.dinv + 9 * n;
      for (int c = 0; c < 3; ++c) {
        const float d = di[3 * c] * res[0] + di[3 * c + 1] * res[1] + di[3 * c + 2] * res[2];
        out[3 * n + c] = ((fr >> c) & 1) ? (in ? in[3 * n + c] : 0.0f) + w * d : 0.0f;
      }
    });
  }

  void residual(int l, const float* xin, float* out) {
    const LevelView v = view(l);
    const float* b = lv[l].b.data();
    const float* ke = ke_f.data();
    for_node_products<float, float>(l, ke, xin, [=] FLARE_HD(std::int64_t n, Vec3<float> ax) {
      const std::uint8_t fr = v.free[n];
      for (int c = 0; c < 3; ++c) out[3 * n + c] = ((fr >> c) & 1) ? b[3 * n + c] - ax.v[c] : 0.0f;
    });
  }

  // b_{l+1} = P^T r_l: each coarse node gathers the 27 fine nodes around its position.
  void restrict_to(int l, const float* rf) {
    const LevelView v = view(l + 1), fv = view(l);
    float* bc = lv[l + 1].b.data();
    for_nodes(l + 1, [=] FLARE_HD(std::int64_t n) {
      const std::uint8_t fr = v.free[n];
      float s[3] = {0, 0, 0};
      if (fr) {
        for_each_fine_node(fv, v.locate(n), [&](std::int64_t fn, float w) {
          for (int c = 0; c < 3; ++c) s[c] += w * rf[3 * fn + c];
        });
      }
      for (int c = 0; c < 3; ++c) bc[3 * n + c] = ((fr >> c) & 1) ? s[c] : 0.0f;
    });
  }

  // t_l += P t_{l+1}: trilinear interpolation from the (up to 8) parent nodes.
  void prolong_add(int l) {
    const LevelView v = view(l), cv = view(l + 1);
    float* t = lv[l].t.data();
    const float* tc = lv[l + 1].t.data();
    for_nodes(l, [=] FLARE_HD(std::int64_t n) {
      const std::uint8_t fr = v.free[n];
      if (!fr) return;
      const LevelView::At at = v.locate(n);
      const LevelPart& cp = cv.parts[at.p];
      const int f[3] = {at.i, at.j, at.k};
      float s[3] = {0, 0, 0};
      for (int d = 0; d < 8; ++d) {
        int q[3];
        float w = 1;
        bool skip = false;
        for (int axis = 0; axis < 3; ++axis) {
          const int bit = (d >> axis) & 1;
          if (f[axis] % 2 == 0) {
            skip = skip || bit;
            q[axis] = f[axis] / 2;
          } else {
            w *= 0.5f;
            q[axis] = (f[axis] + (bit ? 1 : -1)) / 2;
          }
        }
        if (skip) continue;
        const std::int64_t cn = 3 * cv.node(cp, q[0], q[1], q[2]);
        for (int c = 0; c < 3; ++c) s[c] += w * tc[cn + c];
      }
      for (int c = 0; c < 3; ++c)
        if ((fr >> c) & 1) t[3 * n + c] += s[c];
    });
  }

  void coarsest_solve() {
    const int lc = int(lv.size()) - 1;
    const LevelView v = view(lc);
    const float* b = lv[lc].b.data();
    float* t = lv[lc].t.data();
    const float* inv = coarse_inv.data();
    const int* sk = skip;
    ex.forall(3 * lv[lc].nodes, [=] FLARE_HD(std::int64_t i) {
      const LevelView::At at = v.locate(i / 3);
      if (sk && sk[at.p]) return;
      double s = 0;
      if (at.valid && ((v.free[i / 3] >> (i % 3)) & 1)) {
        const LevelPart& lp = v.parts[at.p];
        const std::int64_t d = i - 3 * lp.node_off;
        const float* row = inv + (std::int64_t(at.p) * kDense + d) * kDense;
        for (std::int64_t e = 0; e < 3 * lp.nodes(); ++e) s += row[e] * double(b[3 * lp.node_off + e]);
      }
      t[i] = float(s);
    });
  }

  void vcycle(int l) {
    Level& L = lv[l];
    if (l + 1 == int(lv.size())) return coarsest_solve();
    smooth(l, nullptr, L.x.data());
    smooth(l, L.x.data(), L.t.data());
    residual(l, L.t.data(), L.x.data());
    restrict_to(l, L.x.data());
    vcycle(l + 1);
    prolong_add(l);
    smooth(l, L.t.data(), L.x.data());
    smooth(l, L.x.data(), L.t.data());
  }

  // z = V-cycle(r), through fp32.
  void precondition() {
    float* b0 = lv[0].b.data();
    const float* t0 = lv[0].t.data();
    const double* rr = r.data();
    double* zz = z.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) b0[i] = float(rr[i]);
    });
    vcycle(0);
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) zz[i] = double(t0[i]);
    });
  }

  // ---- CG (fp64), all parts at once ------------------------------------------------------------

  // y = A x on free DOFs (fp64, the unit K_e).
  void apply(const double* xin, double* y) {
    const LevelView v = view(0);
    const double* ke = ke_d.data();
    for_node_products<double, double>(0, ke, xin, [=] FLARE_HD(std::int64_t n, Vec3<double> ax) {
      const std::uint8_t fr = v.free[n];
      for (int c = 0; c < 3; ++c) y[3 * n + c] = ((fr >> c) & 1) ? ax.v[c] : 0.0;
    });
  }

  void dot(const double* a, const double* b, double* out) {
    sum_nodes(0, out, [=] FLARE_HD(std::int64_t n) {
      return a[3 * n] * b[3 * n] + a[3 * n + 1] * b[3 * n + 1] + a[3 * n + 2] * b[3 * n + 2];
    });
  }

  void count_not_done() {
    const int* d = done.data();
    int* nd = not_done.data();
    const int np = parts;
    ex.forall(1, [=] FLARE_HD(std::int64_t) {
      int c = 0;
      for (int i = 0; i < np; ++i) c += d[i] ? 0 : 1;
      nd[0] = c;
    });
  }
  int read_not_done() {
    int h = 0;
    not_done.download_part(&h, 0, 1);
    return h;
  }

  // Solves A x = f for every part (x holds the initial guess); adds iterations to `iters`.
  void cg() {
    const LevelView v = view(0);
    const int* cp = lv[0].chunk_part.data();
    double *X = x.data(), *R = r.data(), *Z = z.data(), *Pv = p.data(), *Q = q.data();
    const double* F = f.data();
    double *bb = s_bb.data(), *rr = s_rr.data(), *rz = s_rz.data(), *pq = s_pq.data();
    double *alpha = s_alpha.data(), *beta = s_beta.data();
    int *dn = done.data(), *it = iters.data();
    const double* t2 = tol2.data();
    const std::uint8_t* fr = v.free;

    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (int c = 0; c < 3; ++c) X[3 * n + c] = ((fr[n] >> c) & 1) ? X[3 * n + c] : 0.0;
    });
    apply(X, Q);
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (int c = 0; c < 3; ++c) R[3 * n + c] = ((fr[n] >> c) & 1) ? F[3 * n + c] - Q[3 * n + c] : 0.0;
    });
    dot(F, F, bb);
    dot(R, R, rr);
    ex.forall(parts, [=] FLARE_HD(std::int64_t pi) { dn[pi] = bb[pi] == 0 || rr[pi] <= t2[pi] * bb[pi]; });
    // A part with no load has the zero solution (its warm start is discarded).
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      if (bb[cp[n / kChunk]] == 0)
        for (int c = 0; c < 3; ++c) X[3 * n + c] = 0;
    });
    struct SkipDone {  // converged parts drop out of the loops until cg() returns
      Solver& s;
      ~SkipDone() { s.skip = nullptr; }
    } skip_done{*this};
    skip = dn;
    count_not_done();
    if (read_not_done() == 0) return;
    timed(prof.precondition, [&] { precondition(); });
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (int c = 0; c < 3; ++c) Pv[3 * n + c] = Z[3 * n + c];
    });
    dot(R, Z, rz);
    // An iteration is two recorded halves around the one host read (whether any part goes on):
    // the step along p, and the next direction. Their buffers never change, so each is recorded
    // once per run and replayed in every iteration of every group.
    auto step = [&] {
      apply(Pv, Q);
      dot(Pv, Q, pq);
      ex.forall(parts, [=] FLARE_HD(std::int64_t pi) {
        alpha[pi] = dn[pi] || pq[pi] == 0 ? 0.0 : rz[pi] / pq[pi];
        it[pi] += dn[pi] ? 0 : 1;
      });
      for_nodes(0, [=] FLARE_HD(std::int64_t n) {
        const double a = alpha[cp[n / kChunk]];
        for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) {
          X[i] += a * Pv[i];
          R[i] -= a * Q[i];
        }
      });
      dot(R, R, rr);
      ex.forall(parts, [=] FLARE_HD(std::int64_t pi) { dn[pi] = dn[pi] || rr[pi] <= t2[pi] * bb[pi]; });
      count_not_done();
    };
    auto direction = [&] {
      timed(prof.precondition, [&] { precondition(); });
      dot(R, Z, pq);  // pq reused for the new r.z
      ex.forall(parts, [=] FLARE_HD(std::int64_t pi) {
        beta[pi] = dn[pi] || rz[pi] == 0 ? 0.0 : pq[pi] / rz[pi];
        rz[pi] = pq[pi];
      });
      for_nodes(0, [=] FLARE_HD(std::int64_t n) {
        const double bt = beta[cp[n / kChunk]];
        for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) Pv[i] = Z[i] + bt * Pv[i];
      });
    };
    for (int k = 0;; ++k) {
      if (k >= pb.max_iterations) {
        std::vector<int> d = done.download();
        std::vector<double> b2 = s_bb.download(), r2 = s_rr.download();
        for (int i = 0; i < parts; ++i)
          FLARE_CHECK(d[std::size_t(i)], pb.parts[std::size_t(i)].name, ": CG did not converge in ",
                      pb.max_iterations, " iterations (relative residual ",
                      std::sqrt(r2[std::size_t(i)] / b2[std::size_t(i)]), ")");
      }
      ++prof.loops;
      recorded(g_step, step);
      if (read_not_done() == 0) return;
      recorded(g_direction, direction);
    }
  }

  // ---- the build --------------------------------------------------------------------------------

  // At the start of a group: u on each part's first new plane is the birth state of the bottom
  // nodes of the group's first layer.
  void store_birth_plane() {
    const LevelView v = view(0);
    const KState* ks = kstate.data();
    const double* U = u.data();
    double* UB = ub.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      const LevelView::At at = v.locate(n);
      if (!at.valid) return;
      const KState k = ks[at.p];
      if (k.k_top > k.k_prev && at.k == k.k_prev)
        for (int c = 0; c < 3; ++c) UB[3 * n + c] = U[3 * n + c];
    });
  }

  // f = eigenstrain loads of the group's new elements, gathered per node; masked.
  void group_load() {
    const LevelView v = view(0);
    const KState* ks = kstate.data();
    const double* fe_ = fe.data();
    double* F = f.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      double s[3] = {0, 0, 0};
      const std::uint8_t fr = v.free[n];
      if (fr) {
        const LevelView::At at = v.locate(n);
        const LevelPart& lp = v.parts[at.p];
        const KState k = ks[at.p];
        for (int d = 0; d < 8; ++d) {
          const int dx = d & 1, dy = (d >> 1) & 1, dz = d >> 2;
          const int ci = at.i - dx, cj = at.j - dy, ck = at.k - dz;
          if (ci < 0 || cj < 0 || ck < k.k_prev || ci >= lp.nx || cj >= lp.ny || ck >= k.k_top) continue;
          if (!v.solid[v.cell(lp, ci, cj, ck)]) continue;
          const int a = corner_of(dx, dy, dz);
          for (int c = 0; c < 3; ++c) s[c] += fe_[3 * a + c];
        }
      }
      for (int c = 0; c < 3; ++c) F[3 * n + c] = ((fr >> c) & 1) ? s[c] : 0.0;
    });
  }

  // Release: the reactions of the plate and the supports (internal forces left on their nodes),
  // reversed.
  void release_load() {
    const LevelView v = view(0);
    const double *U = u.data(), *UB = ub.data(), *ke = ke_d.data(), *fe_ = fe.data();
    const std::uint8_t* sup = supported.data();
    double* F = f.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      double s[3] = {0, 0, 0};
      const LevelView::At at = v.locate(n);
      const std::uint8_t fr = v.free[n];
      if (at.valid && (at.k == 0 || sup[n]) && fr) {
        const LevelPart& lp = v.parts[at.p];
        for (int d = 0; d < 8; ++d) {
          const int dx = d & 1, dy = (d >> 1) & 1, dz = d >> 2;
          const int ci = at.i - dx, cj = at.j - dy, ck = at.k - dz;
          if (!v.cell_active(at.p, lp, ci, cj, ck)) continue;
          double ue[24];
          element_strain_state(v, lp, ci, cj, ck, U, UB, ue);
          const int a = corner_of(dx, dy, dz);
          for (int c = 0; c < 3; ++c) {
            double fi = -fe_[3 * a + c];
            for (int e = 0; e < 24; ++e) fi += ke[(3 * a + c) * 24 + e] * ue[e];
            s[c] -= fi;
          }
        }
      }
      for (int c = 0; c < 3; ++c) F[3 * n + c] = ((fr >> c) & 1) ? s[c] : 0.0;
    });
  }

  void add_increment() {
    double* U = u.data();
    const double* X = x.data();
    for_nodes(0, [=] FLARE_HD(std::int64_t n) {
      for (std::int64_t i = 3 * n; i < 3 * n + 3; ++i) U[i] += X[i];
    });
  }

  // Element von Mises stress, averaged over each node's elements (all solid at the end).
  std::vector<double> von_mises() {
    const LevelView v = view(0);
    const double *U = u.data(), *UB = ub.data(), *bb = bbar.data(), *dd = dmat.data(), *ep = eps.data();
    Arr<double> vm;
    vm.resize(std::size_t(lv[0].nodes), "von Mises");
    double* VM = vm.data();
    ex.forall(lv[0].nodes, [=] FLARE_HD(std::int64_t n) {
      const LevelView::At at = v.locate(n);
      double sum = 0;
      int count = 0;
      if (at.valid) {
        const LevelPart& lp = v.parts[at.p];
        for (int d = 0; d < 8; ++d) {
          const int ci = at.i - (d & 1), cj = at.j - ((d >> 1) & 1), ck = at.k - (d >> 2);
          if (!v.cell_active(at.p, lp, ci, cj, ck)) continue;
          double ue[24], strain[6], sig[6];
          element_strain_state(v, lp, ci, cj, ck, U, UB, ue);
          for (int i = 0; i < 6; ++i) {
            double s = -ep[i];
            for (int e = 0; e < 24; ++e) s += bb[24 * i + e] * ue[e];
            strain[i] = s;
          }
          for (int i = 0; i < 6; ++i) {
            double s = 0;
            for (int j = 0; j < 6; ++j) s += dd[6 * i + j] * strain[j];
            sig[i] = s;
          }
          const double m = (sig[0] + sig[1] + sig[2]) / 3;
          const double s0 = sig[0] - m, s1 = sig[1] - m, s2 = sig[2] - m;
          const double j2 = 0.5 * (s0 * s0 + s1 * s1 + s2 * s2) + sig[3] * sig[3] + sig[4] * sig[4] + sig[5] * sig[5];
          sum += std::sqrt(3 * j2);
          ++count;
        }
      }
      VM[n] = count ? sum / count : 0.0;
    });
    return vm.download();
  }

  std::vector<Solution> run(const GroupCallback& on_group) {
    const auto t_run = std::chrono::steady_clock::now();
    timed(prof.setup, [&] { setup(); });
    std::vector<Solution> out(static_cast<std::size_t>(parts));
    for (int g = 0; g < groups; ++g) {
      bool any = false;
      for (int i = 0; i < parts; ++i) {
        const Part& pt = pb.parts[std::size_t(i)];
        KState& k = hk[std::size_t(i)];
        k.k_prev = k.k_top;
        if (g < int(pt.k_top.size())) k.k_top = pt.k_top[std::size_t(g)];
        if (k.k_top > k.k_prev) {
          any = true;
          ++out[std::size_t(i)].solves;
        }
      }
      if (any) {
        kstate.upload_part(hk.data(), 0, hk.size());
        std::vector<std::int64_t> h;
        for (int i = 0; i < parts; ++i) {
          const Part& pt = pb.parts[std::size_t(i)];
          if (g < int(pt.held.size()) && hk[std::size_t(i)].k_top > hk[std::size_t(i)].k_prev)
            for (std::int64_t v : pt.held[std::size_t(g)]) h.push_back(lv[0].hparts[std::size_t(i)].node_off + v);
        }
        held_count = std::int64_t(h.size());
        held.upload_part(h.data(), 0, h.size());
        timed(prof.operators, [&] { update_operators(false); });
        store_birth_plane();
        group_load();
        timed(prof.cg, [&] { cg(); });
        add_increment();
      }
      if (on_group) on_group(g, groups);
    }
    if (pb.release) {
      held_count = 0;
      for (KState& k : hk) k.k_prev = k.k_top;
      kstate.upload_part(hk.data(), 0, hk.size());
      timed(prof.operators, [&] { update_operators(true); });
      release_load();
      x.zero();
      timed(prof.cg, [&] { cg(); });
      add_increment();
      for (Solution& s : out) ++s.solves;
    }
    std::vector<double> vm, uh;
    std::vector<int> it;
    timed(prof.finish, [&] {
      vm = von_mises();
      uh = u.download();
      it = iters.download();
    });
    if (prof.on) {
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count();
      std::fprintf(stderr,
                   "lattice profile: %d parts, %lld level-0 nodes, %zu levels, %d groups, %ld CG loops; "
                   "wall %.3f s: setup %.3f, operators %.3f (masks %.3f, Galerkin %.3f, blocks %.3f, "
                   "omega %.3f, coarsest %.3f), CG %.3f (V-cycles %.3f), outputs %.3f, rest %.3f; "
                   "list nodes per level:",
                   parts, static_cast<long long>(lv[0].nodes), lv.size(), groups, prof.loops, wall, prof.setup,
                   prof.operators, prof.masks, prof.galerkin, prof.blocks, prof.omega, prof.coarsest, prof.cg,
                   prof.precondition, prof.finish, wall - prof.setup - prof.operators - prof.cg - prof.finish);
      for (const Level& L : lv) std::fprintf(stderr, " %lld", static_cast<long long>(L.list_size));
      // The CG loops cover the whole batch until its slowest part converges: the share of that
      // work that went to parts still iterating.
      double useful = 0, all = 0;
      for (int i = 0; i < parts; ++i) {
        useful += double(it[std::size_t(i)]) * double(pb.parts[std::size_t(i)].nodes());
        all += double(prof.loops) * double(pb.parts[std::size_t(i)].nodes());
      }
      std::fprintf(stderr, "; CG work on unconverged parts %.0f%%\n", all > 0 ? 100 * useful / all : 0.0);
    }
    for (int i = 0; i < parts; ++i) {
      const LevelPart& lp = lv[0].hparts[std::size_t(i)];
      const std::int64_t nodes = pb.parts[std::size_t(i)].nodes();
      Solution& s = out[std::size_t(i)];
      s.u.assign(uh.begin() + 3 * lp.node_off, uh.begin() + 3 * (lp.node_off + nodes));
      s.von_mises.assign(vm.begin() + lp.node_off, vm.begin() + lp.node_off + nodes);
      s.iterations = it[std::size_t(i)];
    }
    return out;
  }
};

}  // namespace flare::am::lattice
