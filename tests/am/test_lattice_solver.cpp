// The voxel-lattice solver against the CPU solver (block-CSR, validated against CalculiX): the same
// displacements and stresses on parts of every family, single step, layer by layer and released.
// Built twice: as test_am_lattice (the solver's host build, in CI) and as test_am_lattice_cuda
// (the GPU build, label gpu), with FLARE_LATTICE_DEVICE naming the device.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <unistd.h>

#include <filesystem>

#include "am/coarse_solve.h"
#include "am/dataset_gen.h"
#include "am/geometry.h"
#include "mesh/io.h"
#include "am/lattice/problem.h"
#include "am/simulate.h"
#include "am/voxel_grid.h"
#include "tests/am/voxel_part.h"
#include "tests/support/errors.h"

#ifdef FLARE_WITH_CUDA
#include "kernels/cuda/common.cuh"
#endif

using namespace flare;
using namespace flare::am;

namespace {

const std::string kDevice = FLARE_LATTICE_DEVICE;

bool device_present() {
  if (kDevice != "cuda") return true;
#ifdef FLARE_WITH_CUDA
  return cuda::cuda_available();
#else
  return false;
#endif
}

#define SKIP_WITHOUT_DEVICE() \
  if (!device_present()) GTEST_SKIP() << "no CUDA device"

std::vector<double> field(const mesh::Mesh& m, const char* name) {
  return m.point_data.get(name, "test").to_doubles();
}

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

struct Pair {
  mesh::Mesh cpu, lattice;
  SimulationReport rc, rl;
};

Pair solve_both(const mesh::Mesh& part, SimulationOptions o) {
  o.rtol = 1e-11;
  o.threads = 1;  // small parts: OpenMP barriers cost more than they save, badly so on busy cores
  Pair p{part, part, {}, {}};
  o.device = "cpu";
  p.rc = simulate(p.cpu, o);
  o.device = kDevice;
  p.rl = simulate(p.lattice, o);
  return p;
}

void expect_same(const Pair& p, const std::string& what, double tol = 1e-6) {
  const double du = rel_diff(field(p.lattice, "displacement"), field(p.cpu, "displacement"));
  const double dv = rel_diff(field(p.lattice, "von_mises"), field(p.cpu, "von_mises"));
  std::printf("%-34s nodes %6lld  solves %3d  CG its cpu %4ld %s %4ld  rel diff u %.2e  vm %.2e\n",
              what.c_str(), (long long)p.cpu.num_points(), p.rc.solves, p.rc.cg_iterations, kDevice.c_str(),
              p.rl.cg_iterations, du, dv);
  EXPECT_LT(du, tol) << what;
  EXPECT_LT(dv, tol) << what;
  EXPECT_EQ(p.rl.solves, p.rc.solves) << what;
  const auto a = field(p.lattice, "layer"), b = field(p.cpu, "layer");
  EXPECT_EQ(a, b) << what;
}

mesh::Mesh family_part(const std::string& family, std::uint64_t seed, std::int64_t lo, std::int64_t hi) {
  PartOptions po;
  po.min_nodes = lo;
  po.max_nodes = hi;
  return voxel_mesh(make_part(family, seed, po).grid);
}

}  // namespace

TEST(LatticeSolver, MatchesTheCpuSolverOnEveryFamily) {
  SKIP_WITHOUT_DEVICE();
  // The host build is slow (it is the oracle, not a product path): CI checks the families whose
  // shapes stress it most (thin features, overhangs started in mid-air, holes); the GPU run all.
  const bool gpu = kDevice == "cuda";
  const std::vector<std::string> families =
      gpu ? part_families()
          : std::vector<std::string>{"thin_wall", "overhang", "gyroid", "lattice", "composite"};
  std::uint64_t seed = 11;
  for (const std::string& family : families) {
    const mesh::Mesh part = gpu ? family_part(family, seed++, 3000, 9000) : family_part(family, seed++, 400, 1200);
    SimulationOptions o;
    o.layer_height = 4 * part.field_data.get("voxel_size", "test").get(0);  // four voxel layers a group
    expect_same(solve_both(part, o), family + " layered");
  }
}

TEST(LatticeSolver, MatchesTheCpuSolverSingleStepLayeredAndReleased) {
  SKIP_WITHOUT_DEVICE();
  // The CalculiX validation shapes (tests/am/test_ccx.cpp), in metres as there.
  const double h = 1e-3;
  const mesh::Mesh bracket = am::test::voxel_part(12, 5, 10, h, [](int i, int, int k) { return k < 2 || i < 3; });
  const mesh::Mesh bridge =
      am::test::voxel_part(14, 4, 8, h, [](int i, int, int k) { return k >= 5 || i < 3 || (i >= 8 && i < 11); });
  SimulationOptions o;
  o.layer_groups = 1;
  expect_same(solve_both(bracket, o), "bracket single step");
  o.layer_groups = 5;
  expect_same(solve_both(bracket, o), "bracket 5 groups");
  o.layer_groups = 4;
  o.release = true;
  expect_same(solve_both(bridge, o), "bridge 4 groups + release");
  o = SimulationOptions{};
  o.layer_height = h;  // one voxel layer per group
  o.release = true;
  o.material = material_by_name("alsi10mg");
  expect_same(solve_both(bridge, o), "bridge layer by layer + release");
  o.supports = true;
  expect_same(solve_both(bridge, o), "bridge on supports + release");
  o.release = false;
  const mesh::Mesh over = kDevice == "cuda" ? family_part("overhang", 4, 4000, 9000) : family_part("overhang", 4, 500, 1200);
  o.layer_height = 2 * over.field_data.get("voxel_size", "test").get(0);
  expect_same(solve_both(over, o), "overhang on supports");
}

TEST(LatticeSolver, VoxelCellsAndLargerPartsMatch) {
  SKIP_WITHOUT_DEVICE();
  const mesh::Mesh vox = am::test::voxel_part(9, 7, 6, 0.5, [](int i, int j, int k) { return k < 2 || (i + j) % 5 != 0; },
                                          mesh::CellType::Voxel);
  SimulationOptions o;
  o.layer_groups = 3;
  expect_same(solve_both(vox, o), "VTK_VOXEL cells, 3 groups");
  if (kDevice == "cuda") {
    const mesh::Mesh big = family_part("l_bracket", 5, 15000, 25000);
    o.layer_groups = 10;
    expect_same(solve_both(big, o), "l_bracket 10 groups");
  }
}

TEST(LatticeSolver, ABatchSolvesEachPartAsAlone) {
  SKIP_WITHOUT_DEVICE();
  // Parts of different sizes: the batch's hierarchy is as deep as its largest part's, so the
  // smaller parts run a different (deeper) V-cycle than alone and agree to the CG tolerance.
  std::vector<mesh::Mesh> parts = {family_part("wall", 1, 300, 800), family_part("cantilever", 2, 1200, 2500),
                                   family_part("tube", 3, 500, 1200)};
  SimulationOptions o;
  o.layer_height = 2.0;
  o.release = true;
  o.device = kDevice;
  o.rtol = 1e-10;
  o.threads = 1;
  std::vector<mesh::Mesh> alone = parts;
  for (mesh::Mesh& m : alone) simulate(m, o);
  std::vector<mesh::Mesh*> ptrs;
  for (mesh::Mesh& m : parts) ptrs.push_back(&m);
  const auto reports = simulate_batch(ptrs, o, {"wall", "cantilever", "tube"});
  ASSERT_EQ(reports.size(), 3u);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_LT(rel_diff(field(parts[i], "displacement"), field(alone[i], "displacement")), 1e-6) << i;
    EXPECT_LT(rel_diff(field(parts[i], "von_mises"), field(alone[i], "von_mises")), 1e-6) << i;
  }
  // The same batch again gives the same bits (fixed-order reductions).
  std::vector<mesh::Mesh> again = parts;
  std::vector<mesh::Mesh*> ptrs2;
  for (mesh::Mesh& m : again) ptrs2.push_back(&m);
  simulate_batch(ptrs2, o);
  for (std::size_t i = 0; i < parts.size(); ++i)
    EXPECT_EQ(field(again[i], "displacement"), field(parts[i], "displacement")) << i;
}

// A part's result does not depend on its batch-mates (so a dataset does not depend on how its
// parts were batched): parts with different numbers of groups and iterations, whose boxes are all
// 12 cells at their longest (so a part alone has the batch's hierarchy), keep the bits of their
// solves alone.
TEST(LatticeSolver, EachPartOfABatchKeepsTheBitsOfItsSolveAlone) {
  SKIP_WITHOUT_DEVICE();
  const double h = 1.0;
  std::vector<mesh::Mesh> parts = {
      am::test::voxel_part(12, 4, 6, h, [](int i, int, int k) { return k < 2 || i < 3; }),
      am::test::voxel_part(12, 5, 10, h, [](int i, int j, int k) { return k < 1 || i < 2 || (i > 9 && j > 1); }),
      am::test::voxel_part(12, 3, 8, h, [](int i, int, int k) { return k >= 6 || i < 3 || i > 8; })};
  SimulationOptions o;
  o.layer_height = h;
  o.release = true;
  o.device = kDevice;
  o.threads = 1;
  std::vector<mesh::Mesh> alone = parts;
  std::vector<SimulationReport> alone_reports;
  for (mesh::Mesh& m : alone) alone_reports.push_back(simulate(m, o));
  std::vector<mesh::Mesh*> ptrs;
  for (mesh::Mesh& m : parts) ptrs.push_back(&m);
  const auto reports = simulate_batch(ptrs, o);
  ASSERT_EQ(reports.size(), parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(reports[i].solves, alone_reports[i].solves) << i;
    EXPECT_EQ(reports[i].cg_iterations, alone_reports[i].cg_iterations) << i;
    EXPECT_EQ(field(parts[i], "displacement"), field(alone[i], "displacement")) << i;
    EXPECT_EQ(field(parts[i], "von_mises"), field(alone[i], "von_mises")) << i;
  }
  EXPECT_NE(alone_reports[0].solves, alone_reports[1].solves);  // the parts finish at different groups
}

// Parts of one batch solved to their own CG tolerances (a dataset's coarse lattices beside its
// full parts): each keeps the iterations and bits of a solve alone at its tolerance, and the loose
// one stops earlier, close to the tight answer.
TEST(LatticeSolver, EachPartOfABatchStopsAtItsOwnTolerance) {
  SKIP_WITHOUT_DEVICE();
  const double h = 1.0;
  const mesh::Mesh part = am::test::voxel_part(12, 4, 8, h, [](int i, int, int k) { return k < 2 || i < 3 || i > 9; });
  SimulationOptions o;
  o.layer_height = h;
  o.device = kDevice;
  o.threads = 1;
  o.rtol = 1e-10;
  const double loose = 1e-4;
  mesh::Mesh tight_alone = part, loose_alone = part;
  const SimulationReport rt = simulate(tight_alone, o);
  SimulationOptions lo = o;
  lo.rtol = loose;
  const SimulationReport rl = simulate(loose_alone, lo);
  mesh::Mesh a = part, b = part;
  const auto reports = simulate_batch(std::vector<BatchPart>{{&a, "tight", 0.0}, {&b, "loose", loose}}, o);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].cg_iterations, rt.cg_iterations);
  EXPECT_EQ(reports[1].cg_iterations, rl.cg_iterations);
  EXPECT_LT(rl.cg_iterations, rt.cg_iterations * 3 / 4) << rl.cg_iterations << " vs " << rt.cg_iterations;
  EXPECT_EQ(field(a, "displacement"), field(tight_alone, "displacement"));
  EXPECT_EQ(field(b, "displacement"), field(loose_alone, "displacement"));
  const double d = rel_diff(field(b, "displacement"), field(a, "displacement"));
  EXPECT_GT(d, 0.0);
  EXPECT_LT(d, 1e-2);
}

// The coarse solve (predict's and eval's, for a model that reads it) solves its lattices as one
// batch on the lattice solver: the same field as one by one on the CPU solver.
TEST(LatticeSolver, ACoarseSolveMatchesTheCpuSolver) {
  SKIP_WITHOUT_DEVICE();
  const mesh::Mesh part = family_part("l_bracket", 7, 4000, 8000);
  SimulationOptions o = default_process("cpu");
  o.coarse_rtol = 1e-11;  // the solvers' agreement, not the coarse solve's default tolerance
  o.threads = 1;
  const CoarseSolve cpu = coarse_solve(part, o, kCoarseFactor, "l_bracket");
  o.device = kDevice;
  const CoarseSolve dev = coarse_solve(part, o, kCoarseFactor, "l_bracket");
  ASSERT_EQ(dev.lattices, cpu.lattices);
  EXPECT_EQ(dev.lattices, 4);
  EXPECT_EQ(dev.nodes, cpu.nodes);
  const double d = (dev.displacement - cpu.displacement).norm() / cpu.displacement.norm();
  std::printf("coarse solve, %d lattices of %lld nodes: rel diff %s vs cpu %.2e\n", dev.lattices,
              static_cast<long long>(dev.nodes), kDevice.c_str(), d);
  EXPECT_LT(d, 1e-6);
  EXPECT_NEAR(dev.spread, cpu.spread, 1e-6);
}

TEST(LatticeSolver, RefusesMeshesThatAreNotVoxelLattices) {
  SKIP_WITHOUT_DEVICE();
  mesh::Mesh m = am::test::voxel_part(3, 2, 2, 1.0, [](int, int, int) { return true; });
  m.points(m.num_points() - 1, 0) += 0.3;  // one corner off the lattice
  SimulationOptions o;
  o.device = kDevice;
  EXPECT_NE(flare::test::input_error([&] { simulate(m, o); }).find("voxel meshes only"), std::string::npos);
}

#ifdef FLARE_WITH_CUDA
TEST(LatticeSolver, NoDeviceAllocationAfterTheFirstGroup) {
  if (kDevice != "cuda" || !cuda::cuda_available()) GTEST_SKIP() << "GPU only";
  mesh::Mesh part = family_part("l_bracket", 7, 4000, 8000);
  SimulationOptions o;
  o.device = "cuda";
  o.layer_groups = 12;
  std::int64_t first = -1, last = -1;
  simulate(part, o, [&](int g, int) {
    (g == 0 ? first : last) = cuda::alloc_stats().count;
  });
  ASSERT_GE(first, 0);
  EXPECT_EQ(last, first) << "device allocations inside the layer-group loop";
}

// The solver records its repeating loop sequences as CUDA graphs; replaying them must give the
// bits that launching every loop directly gives (FLARE_LATTICE_GRAPHS=0), here on a batch whose
// parts converge at different iterations (so the skipping of converged parts is replayed too),
// layer by layer with supports and a release.
TEST(LatticeSolver, GraphReplayEqualsDirectLaunches) {
  if (kDevice != "cuda" || !cuda::cuda_available()) GTEST_SKIP() << "GPU only";
  std::vector<mesh::Mesh> parts = {family_part("wall", 4, 300, 800), family_part("overhang", 5, 1500, 3000),
                                   family_part("tube", 6, 500, 1200)};
  SimulationOptions o;
  o.layer_height = 0.5;
  o.release = true;
  o.device = "cuda";
  auto run = [&](const char* graphs) {
    ::setenv("FLARE_LATTICE_GRAPHS", graphs, 1);
    std::vector<mesh::Mesh> out = parts;
    std::vector<mesh::Mesh*> ptrs;
    for (mesh::Mesh& m : out) ptrs.push_back(&m);
    simulate_batch(ptrs, o);
    ::unsetenv("FLARE_LATTICE_GRAPHS");
    return out;
  };
  const std::vector<mesh::Mesh> direct = run("0"), replayed = run("1");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(field(replayed[i], "displacement"), field(direct[i], "displacement")) << i;
    EXPECT_EQ(field(replayed[i], "von_mises"), field(direct[i], "von_mises")) << i;
  }
}

TEST(LatticeSolver, APartTooLargeForTheGpuIsRefusedWithItsSize) {
  if (kDevice != "cuda" || !cuda::cuda_available()) GTEST_SKIP() << "GPU only";
  lattice::Problem pb;
  lattice::Part p;
  p.nx = p.ny = p.nz = 3000;  // 2.7e10 nodes: never fits; nothing is allocated before the check
  p.k_top = {3000};
  p.name = "huge.vtu";
  pb.parts.push_back(p);
  const std::string msg = flare::test::input_error([&] { lattice::solve_cuda(pb, {}); });
  EXPECT_NE(msg.find("huge.vtu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("GiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("27027009001"), std::string::npos) << msg;  // 3001^3 lattice nodes
}
#endif

TEST(LatticeSolver, ADatasetMatchesTheCpuDataset) {
  SKIP_WITHOUT_DEVICE();
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("flare_lattice_dataset_" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto make = [&](const std::string& device, int streams) {
    DatasetOptions d;
    d.out = base / (device + std::to_string(streams));
    d.gpu_streams = streams;
    d.count = 8;
    d.seed = 3;
    d.part.min_nodes = 200;
    d.part.max_nodes = 900;
    d.jobs = 2;
    d.layer_height = 1.0;
    d.device = device;
    d.batch_nodes = 2500;  // several batches
    d.families = {"wall", "l_bracket", "overhang", "tube"};
    d.coarse_field = true;  // each part's coarse lattices ride in the batches beside it
    d.rtol = 1e-8;          // `am simulate`'s tolerance: the solvers agree to 1e-6 there
    d.coarse_rtol = 1e-8;
    return generate_dataset(d);
  };
  const DatasetReport cpu = make("cpu", 1);
  // One solver thread, and three at once on their own streams (batches of other compositions).
  for (int streams : {1, 3}) {
    const DatasetReport dev = make(kDevice, streams);
    ASSERT_EQ(cpu.samples.size(), dev.samples.size());
    EXPECT_EQ(dev.failed, 0);
    for (std::size_t i = 0; i < cpu.samples.size(); ++i) {
      const SampleRecord &a = cpu.samples[i], &b = dev.samples[i];
      EXPECT_EQ(a.family, b.family);
      EXPECT_EQ(a.split, b.split);
      EXPECT_EQ(a.nodes, b.nodes);
      EXPECT_EQ(a.params, b.params);
      const mesh::Mesh ma = mesh::read_mesh(base / "cpu1" / a.file),
                       mb = mesh::read_mesh(base / (kDevice + std::to_string(streams)) / b.file);
      EXPECT_LT(rel_diff(field(mb, "displacement"), field(ma, "displacement")), 1e-6) << a.file << " " << streams;
      EXPECT_LT(rel_diff(field(mb, "displacement_coarse"), field(ma, "displacement_coarse")), 1e-6)
          << a.file << " " << streams;
      EXPECT_EQ(ma.field_strings.at("layering"), mb.field_strings.at("layering"));
    }
  }
  fs::remove_all(base);
}
