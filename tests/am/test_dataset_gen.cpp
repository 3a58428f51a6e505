#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "am/coarse_solve.h"
#include "am/dataset_gen.h"
#include "am/rng.h"
#include "common/error.h"
#include "mesh/io.h"

using namespace flare::am;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("flare_test_dataset_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

DatasetOptions tiny(const fs::path& out, int count) {
  DatasetOptions o;
  o.out = out;
  o.count = count;
  o.seed = 11;
  o.part.min_nodes = 200;
  o.part.max_nodes = 900;
  o.jobs = 2;
  o.layers = 2;
  o.families = {"wall", "l_bracket", "t_beam"};
  return o;
}

}  // namespace

TEST(DatasetGen, SplitIsEightyTenTenPerBlockAndStable) {
  for (std::uint64_t seed : {0ull, 5ull}) {
    int train = 0, val = 0, test = 0;
    for (int i = 0; i < 100; ++i) {
      std::string s = split_of(seed, i);
      train += s == "train", val += s == "val", test += s == "test";
    }
    EXPECT_EQ(train, 80);
    EXPECT_EQ(val, 10);
    EXPECT_EQ(test, 10);
  }
  EXPECT_NE(split_of(0, 0) + split_of(0, 1) + split_of(0, 2) + split_of(0, 3) + split_of(0, 4) +
                split_of(0, 5) + split_of(0, 6) + split_of(0, 7) + split_of(0, 8) + split_of(0, 9),
            split_of(5, 0) + split_of(5, 1) + split_of(5, 2) + split_of(5, 3) + split_of(5, 4) +
                split_of(5, 5) + split_of(5, 6) + split_of(5, 7) + split_of(5, 8) + split_of(5, 9));
}

TEST(DatasetGen, PlanDependsOnlyOnSeedAndIndex) {
  DatasetOptions a = tiny("unused", 10), b = tiny("other", 500);
  b.jobs = 7;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(plan_sample(a, i).family, plan_sample(b, i).family);
    EXPECT_EQ(plan_sample(a, i).part_seed, plan_sample(b, i).part_seed);
  }
  b.seed = 12;
  int same = 0;
  for (int i = 0; i < 10; ++i) same += plan_sample(a, i).part_seed == plan_sample(b, i).part_seed;
  EXPECT_EQ(same, 0);
}

// csg, sweep, shell, pattern, plate and loft came after the first 14 families: a dataset that gains them keeps
// the plan of every sample that does not become one of their parts.
TEST(DatasetGen, AddingCsgKeepsTheOtherSamplesPlans) {
  const std::vector<std::string> original(part_families().begin(), part_families().begin() + 14);
  ASSERT_EQ(original.back(), "composite");
  ASSERT_EQ(part_families().size(), 20u);
  DatasetOptions all;  // the default list: every family
  DatasetOptions listed;
  listed.families = part_families();
  const int n = 3000;
  int csg = 0;
  for (int i = 0; i < n; ++i) {
    // The plan of the code before csg existed.
    Rng rng(sub_seed(all.seed, std::uint64_t(i)));
    const std::string before = original[std::size_t(rng.integer(0, 13))];
    const std::uint64_t part_seed = rng.next();
    const SampleRecord r = plan_sample(all, i);
    EXPECT_EQ(r.part_seed, part_seed) << i;
    if (r.family == "csg" || r.family == "sweep" || r.family == "shell" || r.family == "pattern" ||
        r.family == "plate" || r.family == "loft")
      ++csg;
    else EXPECT_EQ(r.family, before) << i;
    EXPECT_EQ(plan_sample(listed, i).family, r.family) << i;
  }
  EXPECT_NEAR(csg, 6 * n / 20.0, 100);  // 6 in 20, about 4 standard deviations

  // A list without csg draws exactly as before; a mixed list is uniform; csg alone is all csg.
  DatasetOptions old_three = tiny("unused", 10), mixed = old_three, only = old_three;
  mixed.families = {"wall", "csg"};
  only.families = {"csg"};
  int walls = 0;
  for (int i = 0; i < 1000; ++i) {
    Rng rng(sub_seed(old_three.seed, std::uint64_t(i)));
    EXPECT_EQ(plan_sample(old_three, i).family, old_three.families[std::size_t(rng.integer(0, 2))]);
    const std::string f = plan_sample(mixed, i).family;
    EXPECT_TRUE(f == "wall" || f == "csg");
    walls += f == "wall";
    EXPECT_EQ(plan_sample(only, i).family, "csg");
  }
  EXPECT_NEAR(walls, 500, 65);
}

// A family named k times is drawn k times as often (`--families csg,csg,wall`): the way to weight
// a dataset toward the shapes a model finds hard; later families (csg) as well as original ones.
TEST(DatasetGen, AFamilyNamedTwiceIsDrawnTwiceAsOften) {
  DatasetOptions o = tiny("unused", 10);
  o.families = {"wall", "wall", "wall", "tube", "csg", "csg"};
  int wall = 0, tube = 0, csg = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    const std::string f = plan_sample(o, i).family;
    wall += f == "wall", tube += f == "tube", csg += f == "csg";
  }
  EXPECT_EQ(wall + tube + csg, n);
  EXPECT_NEAR(wall, n / 2.0, 110);  // 3 in 6, about 4 standard deviations
  EXPECT_NEAR(tube, n / 6.0, 85);
  EXPECT_NEAR(csg, n / 3.0, 105);
}

TEST(DatasetGen, GeneratesResumesAndWritesAConsistentManifest) {
  const fs::path dir = fresh_dir("resume");
  DatasetReport first = generate_dataset(tiny(dir, 3));
  EXPECT_EQ(first.generated, 3);
  EXPECT_EQ(first.reused, 0);
  EXPECT_EQ(first.failed, 0);

  std::ifstream f(dir / "manifest.json");
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_EQ(j["samples"].size(), 3u);
  std::size_t in_splits = 0;
  for (const char* s : {"train", "val", "test"}) in_splits += j["splits"][s].size();
  EXPECT_EQ(in_splits, 3u);
  for (const auto& s : j["samples"]) {
    flare::mesh::Mesh m = flare::mesh::read_mesh(dir / s["file"].get<std::string>());
    EXPECT_EQ(m.num_points(), s["nodes"].get<std::int64_t>());
    EXPECT_EQ(m.num_cells(), s["elements"].get<std::int64_t>());
    EXPECT_GE(m.num_points(), 200);
    EXPECT_LE(m.num_points(), 900);
    const auto& u = m.point_data.get("displacement", "sample");
    EXPECT_EQ(u.components(), 3);
    EXPECT_EQ(m.field_strings.at("family"), s["family"].get<std::string>());
    EXPECT_EQ(m.field_strings.at("split"), s["split"].get<std::string>());
    EXPECT_EQ(nlohmann::json::parse(m.field_strings.at("parameters")), s["parameters"]);
    const auto& splits = j["splits"][s["split"].get<std::string>()];
    EXPECT_NE(std::find(splits.begin(), splits.end(), s["file"]), splits.end());
  }
  std::ifstream csv(dir / "manifest.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 4);

  // Second run (other job count, material spelled differently): everything is reused.
  const auto stamp = fs::last_write_time(dir / "sample_00001.vtu");
  DatasetOptions again = tiny(dir, 3);
  again.jobs = 1;
  again.material = "Ti64";
  DatasetReport second = generate_dataset(again);
  EXPECT_EQ(second.generated, 0);
  EXPECT_EQ(second.reused, 3);
  EXPECT_EQ(fs::last_write_time(dir / "sample_00001.vtu"), stamp);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(second.samples[i].params, first.samples[i].params);
    EXPECT_EQ(second.samples[i].nodes, first.samples[i].nodes);
  }

  // A corrupt sample is regenerated; a larger count adds only the new samples.
  { std::ofstream(dir / "sample_00002.vtu") << "<VTKFile truncated"; }
  DatasetReport third = generate_dataset(tiny(dir, 4));
  EXPECT_EQ(third.generated, 2);
  EXPECT_EQ(third.reused, 2);
  EXPECT_EQ(third.samples[2].params, first.samples[2].params);
  fs::remove_all(dir);
}

// --coarse-field: every sample also carries displacement_coarse, the part's solve at twice its
// voxel; the batched GPU path (its host build) gives what the CPU path gives, and a dataset made
// without it is solved again with it rather than reused.
TEST(DatasetGen, CoarseFieldIsTheCoarseSolveOnEveryPath) {
  const fs::path cpu = fresh_dir("coarse_cpu"), lattice = fresh_dir("coarse_lattice");
  DatasetOptions o = tiny(cpu, 3);
  o.layers = 0;
  o.layer_height = 0.5;
  // Tight, so that the two solvers agree to 1e-6 (the default, 1e-5, moves the field ~5e-4).
  o.rtol = 1e-10;
  o.coarse_rtol = 1e-10;
  generate_dataset(o);  // without the field first
  o.coarse_field = true;
  const DatasetReport r = generate_dataset(o);
  EXPECT_EQ(r.generated, 3);  // none reused: they lack the field
  EXPECT_EQ(generate_dataset(o).reused, 3);
  {  // A field made another way (as the diagonal lattices were) is made again.
    const fs::path first = cpu / r.samples[0].file;
    flare::mesh::Mesh m = flare::mesh::read_mesh(first);
    EXPECT_EQ(m.field_strings.at("coarse_field"), kCoarseFieldMethod);
    m.field_strings["coarse_field"] = "2x voxel, both diagonal lattices";
    flare::mesh::write_vtu(m, first);
    const DatasetReport again = generate_dataset(o);
    EXPECT_EQ(again.generated, 1);
    EXPECT_EQ(again.reused, 2);
  }
  o.out = lattice;
  o.device = "lattice-host";
  o.batch_nodes = 1500;  // a batch holds parts and coarse lattices of several parts
  EXPECT_EQ(generate_dataset(o).failed, 0);
  std::ifstream f(cpu / "manifest.json");
  EXPECT_EQ(nlohmann::json::parse(f).at("coarse_field"), true);
  for (int i = 0; i < 3; ++i) {
    const std::string name = r.samples[std::size_t(i)].file;
    flare::mesh::Mesh a = flare::mesh::read_mesh(cpu / name), b = flare::mesh::read_mesh(lattice / name);
    const auto& ca = a.point_data.get("displacement_coarse", name);
    ASSERT_EQ(ca.components(), 3);
    double diff = 0, norm = 0;
    for (std::int64_t p = 0; p < a.num_points(); ++p)
      for (int c = 0; c < 3; ++c) {
        const double x = ca.get(p, c), y = b.point_data.get("displacement_coarse", name).get(p, c);
        diff += (x - y) * (x - y);
        norm += x * x;
      }
    EXPECT_GT(norm, 0);
    EXPECT_LT(std::sqrt(diff / norm), 1e-6) << name;
    // It is the coarse solve of the part, as predict makes it.
    flare::mesh::Mesh part = flare::mesh::read_mesh(cpu / name);
    part.point_data = {};
    SimulationOptions sim;
    sim.layer_height = 0.5;
    sim.coarse_rtol = o.coarse_rtol;
    const CoarseSolve cs = coarse_solve(part, sim, kCoarseFactor, name);
    double d2 = 0;
    for (std::int64_t p = 0; p < a.num_points(); ++p)
      for (int c = 0; c < 3; ++c) d2 += std::pow(cs.displacement(p, c) - ca.get(p, c), 2);
    EXPECT_LT(std::sqrt(d2 / norm), 1e-9) << name;
  }
  fs::remove_all(cpu);
  fs::remove_all(lattice);
}

TEST(DatasetGen, SamplesOfAnotherDatasetAreRefused) {
  const fs::path dir = fresh_dir("foreign");
  generate_dataset(tiny(dir, 1));
  DatasetOptions other = tiny(dir, 1);
  other.seed = 99;
  try {
    generate_dataset(other);
    FAIL() << "no InputError";
  } catch (const flare::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another dataset"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(DatasetGen, BadOptionsAreInputErrors) {
  const fs::path dir = fresh_dir("bad");
  DatasetOptions o = tiny(dir, 0);
  EXPECT_THROW(generate_dataset(o), flare::InputError);
  o = tiny(dir, 1);
  o.material = "unobtainium";
  EXPECT_THROW(generate_dataset(o), flare::InputError);
  o = tiny(dir, 1);
  o.families = {"blob"};
  EXPECT_THROW(generate_dataset(o), flare::InputError);
  fs::remove_all(dir);
}
