#include "am/coarse_solve.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <vector>

#include "common/error.h"

namespace flare::am {

namespace {

// Lattice node (i, j, k) of a grid with nx x ny x nz voxels -> flat index.
std::int64_t node_index(const VoxelGrid& g, std::int64_t i, std::int64_t j, std::int64_t k) {
  return i + (g.nx + 1) * (j + (g.ny + 1) * k);
}

}  // namespace

VoxelGrid voxel_grid_of(const mesh::Mesh& part, const std::string& source) {
  const std::int64_t C = part.num_cells();
  FLARE_INPUT_CHECK(C > 0 && part.num_points() > 0, source, ": no cells; a coarse solve needs a "
                    "voxel mesh (`am voxelize`, `am part`)");
  const Eigen::Vector3d lo = part.points.colwise().minCoeff().transpose();
  // Each cell's min corner and edge lengths, checked against the first cell's.
  double h = 0;
  std::vector<std::array<int, 3>> ijk(std::size_t(C), {0, 0, 0});
  std::array<int, 3> hi = {0, 0, 0};
  for (std::int64_t c = 0; c < C; ++c) {
    FLARE_INPUT_CHECK(part.cell_size(c) == 8, source, ": cell ", c, " has ", part.cell_size(c),
                      " vertices; a coarse solve needs a voxel mesh of hexahedra");
    Eigen::Vector3d mn = Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity());
    Eigen::Vector3d mx = -mn;
    for (int v = 0; v < 8; ++v) {
      const Eigen::Vector3d p = part.points.row(part.cell(c)[v]).transpose();
      mn = mn.cwiseMin(p);
      mx = mx.cwiseMax(p);
    }
    const Eigen::Vector3d e = mx - mn;
    if (c == 0) h = e.x();
    FLARE_INPUT_CHECK(h > 0 && (e.array() - h).abs().maxCoeff() <= 1e-6 * h, source, ": cell ", c,
                      " is not a cube of edge ", h, " (", e.x(), " x ", e.y(), " x ", e.z(),
                      "); a coarse solve needs a voxel mesh");
    for (int a = 0; a < 3; ++a) {
      const double t = (mn[a] - lo[a]) / h;
      const double r = std::round(t);
      FLARE_INPUT_CHECK(std::abs(t - r) <= 1e-4, source, ": cell ", c,
                        " is off the voxel lattice; a coarse solve needs a voxel mesh");
      ijk[std::size_t(c)][std::size_t(a)] = int(r);
      hi[std::size_t(a)] = std::max(hi[std::size_t(a)], int(r) + 1);
    }
  }
  VoxelGrid g = VoxelGrid::empty(lo, h, hi[0], hi[1], hi[2]);
  for (const auto& v : ijk) g.solid[std::size_t(g.index(v[0], v[1], v[2]))] = 1;
  return g;
}

VoxelGrid coarsen(const VoxelGrid& grid, int factor, const std::array<int, 3>& offset) {
  for (int o : offset)
    FLARE_CHECK(factor >= 1 && o >= 0 && o < factor, "coarsen: factor ", factor, ", offset ", o);
  // Coarse voxel I is centred on fine voxel f I + o: along each axis it starts (o + 1/2 - f/2)
  // fine voxels from the fine lattice's origin, plus f I.
  const auto n = [&](int fine, int o) { return fine - 1 - o >= 0 ? (fine - 1 - o) / factor + 1 : 0; };
  const Eigen::Vector3d shift(offset[0], offset[1], offset[2]);
  VoxelGrid c = VoxelGrid::empty(
      grid.origin + ((shift.array() + 0.5 - 0.5 * factor) * grid.voxel).matrix(), grid.voxel * factor,
      n(grid.nx, offset[0]), n(grid.ny, offset[1]), n(grid.nz, offset[2]));
  for (int k = 0; k < c.nz; ++k)
    for (int j = 0; j < c.ny; ++j)
      for (int i = 0; i < c.nx; ++i)
        c.solid[std::size_t(c.index(i, j, k))] =
            grid.at(i * factor + offset[0], j * factor + offset[1], k * factor + offset[2]) ? 1 : 0;
  return c;
}

Eigen::MatrixX3d sample_at_points(const mesh::Mesh& coarse, const VoxelGrid& grid, double z_shift,
                                  const mesh::Mesh& part, const std::string& name) {
  const mesh::DataArray* u = coarse.point_data.find(name);
  FLARE_CHECK(u && u->components() == 3, "sample_at_points: no 3-component array ", name);
  const double h = grid.voxel;
  // Lattice node -> coarse mesh point (-1: no such point).
  std::vector<std::int64_t> at(std::size_t((grid.nx + 1) * std::int64_t(grid.ny + 1) * (grid.nz + 1)), -1);
  for (std::int64_t p = 0; p < coarse.num_points(); ++p) {
    const Eigen::Vector3d q = coarse.points.row(p).transpose() + Eigen::Vector3d(0, 0, z_shift);
    const Eigen::Vector3d t = ((q - grid.origin) / h).array().round();
    FLARE_CHECK(t.minCoeff() >= 0 && t.x() <= grid.nx && t.y() <= grid.ny && t.z() <= grid.nz,
                "sample_at_points: a coarse point off its grid");
    at[std::size_t(node_index(grid, std::int64_t(t.x()), std::int64_t(t.y()), std::int64_t(t.z())))] = p;
  }
  // Read once as doubles: DataArray::get's type dispatch per corner was a fifth of the time.
  const std::vector<double> uv = u->to_doubles();
  auto value = [&](std::int64_t p, int c) { return uv[std::size_t(3 * p + c)]; };
  const std::int64_t N = part.num_points();
  Eigen::MatrixX3d out(N, 3);
#pragma omp parallel
  {
  std::vector<std::int64_t> best;  // per thread: the nearest coarse points of a point outside
#pragma omp for schedule(static)
  for (std::int64_t n = 0; n < N; ++n) {
    const Eigen::Vector3d t = (part.points.row(n).transpose() - grid.origin) / h;
    // The voxels that hold the point along each axis: one, or two where it lies on a lattice plane
    // (within rounding: a part moved on the plate lands a hair to either side of the plane, and
    // the value must not depend on which).
    int lo[3], hi[3];
    for (int a = 0; a < 3; ++a) {
      const int n_a = a == 0 ? grid.nx : a == 1 ? grid.ny : grid.nz;
      const double r = std::round(t[a]);
      if (std::abs(t[a] - r) < 1e-9) {
        lo[a] = std::max(int(r) - 1, 0);
        hi[a] = std::min(int(r), n_a - 1);
      } else {
        lo[a] = hi[a] = std::min(std::max(int(std::floor(t[a])), 0), n_a - 1);
      }
    }
    // Any solid voxel that holds the point will do: the trilinear field is continuous across
    // their shared faces.
    bool inside = false;
    std::int64_t corner[8];
    int i = 0, j = 0, k = 0;
    for (int c = lo[2]; c <= hi[2] && !inside; ++c)
      for (int b = lo[1]; b <= hi[1] && !inside; ++b)
        for (int a = lo[0]; a <= hi[0] && !inside; ++a) {
          inside = grid.at(a, b, c);
          for (int v = 0; v < 8 && inside; ++v) {
            corner[v] = at[std::size_t(node_index(grid, a + (v & 1), b + ((v >> 1) & 1), c + (v >> 2)))];
            inside = corner[v] >= 0;  // a voxel of a dropped island has no points
          }
          if (inside) i = a, j = b, k = c;
        }
    if (inside) {
      const double fx = std::clamp(t.x() - i, 0.0, 1.0), fy = std::clamp(t.y() - j, 0.0, 1.0),
                   fz = std::clamp(t.z() - k, 0.0, 1.0);
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int v = 0; v < 8; ++v)
          s += ((v & 1) ? fx : 1 - fx) * (((v >> 1) & 1) ? fy : 1 - fy) * ((v >> 2) ? fz : 1 - fz) *
               value(corner[v], c);
        out(n, c) = s;
      }
      continue;
    }
    // Outside the coarse solid: the mean of the nearest coarse points, among the lattice nodes
    // around, else among all. Ties (equally near within rounding) are averaged, not broken by
    // the order of the search, so that a turned or moved part gets the turned or same value.
    best.clear();
    double best_d = std::numeric_limits<double>::infinity();
    const auto offer = [&](std::int64_t p, double d) {
      if (d < best_d - 1e-9) best_d = d, best.assign(1, p);
      else if (d < best_d + 1e-9) best.push_back(p);
    };
    const int ci = int(std::floor(t.x())), cj = int(std::floor(t.y())), ck = int(std::floor(t.z()));
    for (int dk = -1; dk <= 2; ++dk)
      for (int dj = -1; dj <= 2; ++dj)
        for (int di = -1; di <= 2; ++di) {
          const int a = ci + di, b = cj + dj, c = ck + dk;
          if (a < 0 || b < 0 || c < 0 || a > grid.nx || b > grid.ny || c > grid.nz) continue;
          const std::int64_t p = at[std::size_t(node_index(grid, a, b, c))];
          if (p >= 0) offer(p, (Eigen::Vector3d(a, b, c) - t).squaredNorm());
        }
    if (best.empty())
      for (std::int64_t p = 0; p < coarse.num_points(); ++p) {
        const Eigen::Vector3d q = coarse.points.row(p).transpose() + Eigen::Vector3d(0, 0, z_shift);
        offer(p, ((q - grid.origin) / h - t).squaredNorm());
      }
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (std::int64_t p : best) s += value(p, c);
      out(n, c) = s / double(best.size());
    }
  }
  }
  return out;
}

CoarseMeshes coarse_meshes(const mesh::Mesh& part, int factor, const std::string& source) {
  const VoxelGrid fine_grid = voxel_grid_of(part, source);
  CoarseMeshes c;
  c.voxel = fine_grid.voxel * factor;
  // The placements are independent: made side by side, kept in placement order.
  const int placements = factor * factor;
  const auto n = static_cast<std::size_t>(placements);
  std::vector<VoxelGrid> grids(n);
  std::vector<mesh::Mesh> meshes(n);
  std::vector<int> kmins(n, -1);
  std::vector<std::exception_ptr> errors(n);
#pragma omp parallel for schedule(dynamic)
  for (int placement = 0; placement < placements; ++placement) {
    try {
      VoxelGrid g = coarsen(fine_grid, factor, {placement % factor, placement / factor, 0});
      int kmin = -1;
      for (int k = 0; k < g.nz && kmin < 0; ++k)
        for (int j = 0; j < g.ny && kmin < 0; ++j)
          for (int i = 0; i < g.nx && kmin < 0; ++i)
            if (g.at(i, j, k)) kmin = k;
      kmins[std::size_t(placement)] = kmin;
      if (kmin < 0) continue;  // nothing of the part is left on this placement
      meshes[std::size_t(placement)] = voxel_mesh(g);
      grids[std::size_t(placement)] = std::move(g);
    } catch (...) {
      errors[std::size_t(placement)] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int placement = 0; placement < placements; ++placement) {
    const int kmin = kmins[std::size_t(placement)];
    if (kmin < 0) continue;
    VoxelGrid& g = grids[std::size_t(placement)];
    c.meshes.push_back(std::move(meshes[std::size_t(placement)]));
    // voxel_mesh put the bottom of the lowest solid layer at z = 0.
    c.z_shift.push_back(g.origin.z() + kmin * g.voxel);
    c.grids.push_back(std::move(g));
  }
  // Every placement samples the part's bottom layer (o_z = 0), and the f^2 in-plane placements
  // sample every voxel of it between them: something of every voxel mesh is left.
  FLARE_CHECK(!c.meshes.empty(), source, ": no coarse lattice kept any voxel");
  return c;
}

void CoarseMeshes::add_to_batch(std::vector<BatchPart>& batch, const std::string& source, double rtol) {
  for (std::size_t l = 0; l < meshes.size(); ++l)
    batch.push_back({&meshes[l], detail::concat(source, " (coarse lattice ", l + 1, ")"), rtol});
}

CoarseSolve combine_coarse(const CoarseMeshes& solved, const mesh::Mesh& part) {
  CoarseSolve r;
  r.voxel = solved.voxel;
  r.lattices = int(solved.meshes.size());
  r.displacement = Eigen::MatrixX3d::Zero(part.num_points(), 3);
  std::vector<Eigen::MatrixX3d> fields;
  for (std::size_t l = 0; l < solved.meshes.size(); ++l) {
    fields.push_back(sample_at_points(solved.meshes[l], solved.grids[l], solved.z_shift[l], part,
                                      "displacement"));
    r.displacement += fields.back() / double(solved.meshes.size());
    r.nodes += solved.meshes[l].num_points();
  }
  double spread = 0;
  for (const auto& u : fields) spread += (u - r.displacement).squaredNorm() / double(fields.size());
  const double norm = r.displacement.norm();
  r.spread = norm > 0 ? std::sqrt(spread) / norm : 0;
  return r;
}

CoarseSolve coarse_solve(const mesh::Mesh& part, const SimulationOptions& opts, int factor,
                         const std::string& source) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  CoarseMeshes c = coarse_meshes(part, factor, source);
  const auto t_meshes = clock::now();
  // One batch: on the GPU the lattices share each launch (four solves of an eighth of the part's
  // nodes each would leave most of it idle, one after another); on the CPU they go one by one.
  std::vector<BatchPart> lattices;
  c.add_to_batch(lattices, source, opts.coarse_rtol);
  simulate_batch(lattices, opts);
  const auto t_solved = clock::now();
  CoarseSolve r = combine_coarse(c, part);
  const auto sec = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  r.seconds = sec(t0, clock::now());
  // Where a predict's coarse solve stage goes (the solver's own profile prints beside it).
  if (const char* prof = std::getenv("FLARE_LATTICE_PROFILE"); prof && prof[0] == '1')
    std::fprintf(stderr, "coarse solve profile: %s: lattices %.3f s, solve %.3f s, sampling %.3f s\n",
                 source.c_str(), sec(t0, t_meshes), sec(t_meshes, t_solved), sec(t_solved, clock::now()));
  return r;
}

void put_coarse_field(mesh::Mesh& part, const CoarseSolve& c) {
  const std::int64_t N = part.num_points();
  FLARE_CHECK(c.displacement.rows() == N, "put_coarse_field: ", c.displacement.rows(),
              " rows for ", N, " points");
  mesh::DataArray a(kCoarseField, mesh::DType::Float64, 3, N);
  for (std::int64_t i = 0; i < N; ++i)
    for (int k = 0; k < 3; ++k) a.data<double>()[3 * i + k] = c.displacement(i, k);
  part.point_data.put(std::move(a));
}

std::optional<CoarseSolve> ensure_coarse_field(mesh::Mesh& part, const std::vector<std::string>& inputs,
                                               const SimulationOptions& opts, const std::string& source) {
  if (std::find(inputs.begin(), inputs.end(), kCoarseField) == inputs.end()) return std::nullopt;
  if (const mesh::DataArray* a = part.point_data.find(kCoarseField)) {
    FLARE_INPUT_CHECK(a->components() == 3, source, ": point array ", kCoarseField, " has ",
                      a->components(), " components, expected 3 (a displacement); remove it and "
                      "the coarse solve is made again");
    return std::nullopt;
  }
  CoarseSolve c;
  try {
    c = coarse_solve(part, opts, kCoarseFactor, source);
  } catch (const InputError& e) {
    throw InputError(detail::concat(e.what(), " (the model reads ", kCoarseField, ", a solve of the "
                                    "part at twice its voxel: give it the part's STL, which is "
                                    "voxelised first, or a mesh from `am voxelize`; or predict "
                                    "from the geometry alone, -m lpbf-v2-geometry.h5)"));
  }
  put_coarse_field(part, c);
  return c;
}

SimulationOptions default_process(const std::string& device) {
  SimulationOptions o;
  o.layer_height = kDefaultLayerHeight;
  o.supports = true;
  o.device = device;
  return o;
}

double surrogate_weight(double score, double sigma_coarse) {
  FLARE_CHECK(score >= 0 && sigma_coarse > 0, "surrogate_weight: score ", score, ", sigma ", sigma_coarse);
  return sigma_coarse * sigma_coarse / (score * score + sigma_coarse * sigma_coarse);
}

CoarseBlend blend_coarse_solve(mesh::Mesh& part, const std::string& target, double score,
                               double sigma_coarse, const SimulationOptions& opts, int factor,
                               const std::string& source) {
  const std::string pred_name = target + "_pred";
  const mesh::DataArray* pred = part.point_data.find(pred_name);
  FLARE_CHECK(pred && pred->components() == 3, source, ": no 3-component ", pred_name, " to combine");
  CoarseBlend b;
  b.solve = coarse_solve(part, opts, factor, source);
  b.weight = surrogate_weight(score, sigma_coarse);
  b.estimated_error = score > 0 ? 1 / std::sqrt(1 / (score * score) + 1 / (sigma_coarse * sigma_coarse)) : 0;
  const std::int64_t N = part.num_points();
  mesh::DataArray model(target + "_model", mesh::DType::Float64, 3, N);
  mesh::DataArray coarse(target + "_coarse", mesh::DType::Float64, 3, N);
  mesh::DataArray mixed(pred_name, mesh::DType::Float64, 3, N);
  mesh::DataArray mag(pred_name + "_magnitude", mesh::DType::Float64, 1, N);
  const mesh::DataArray* truth = part.point_data.find(target);
  const bool has_truth = truth && truth->components() == 3;
  mesh::DataArray err(target + "_error", mesh::DType::Float64, 3, has_truth ? N : 0);
  for (std::int64_t i = 0; i < N; ++i) {
    double s = 0;
    for (int c = 0; c < 3; ++c) {
      const double m = pred->get(i, c), u = b.solve.displacement(i, c);
      const double v = b.weight * m + (1 - b.weight) * u;
      model.data<double>()[3 * i + c] = m;
      coarse.data<double>()[3 * i + c] = u;
      mixed.data<double>()[3 * i + c] = v;
      if (has_truth) err.data<double>()[3 * i + c] = v - truth->get(i, c);
      s += v * v;
    }
    mag.data<double>()[i] = std::sqrt(s);
  }
  part.point_data.put(std::move(model));
  part.point_data.put(std::move(coarse));
  part.point_data.put(std::move(mixed));
  part.point_data.put(std::move(mag));
  if (has_truth) part.point_data.put(std::move(err));
  return b;
}

}  // namespace flare::am
