// The held-out parts in examples/heldout (shapes no part family makes, the repository's stand-in
// for users' CAD parts): parts.txt names every STL with its voxel size, and each one voxelises at
// that size into one solid of the training range's size (about 12,000 nodes), standing on the
// plate, as `retrain_session.sh stop` and the README's commands voxelise them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "mesh/io.h"
#include "tests/support/cli.h"

namespace fs = std::filesystem;
using namespace flare;

TEST(HeldoutParts, EveryPartVoxelisesIntoOneSolidOfTheTrainingSize) {
  const fs::path folder = fs::path(FLARE_SOURCE_DIR) / "examples/heldout";
  const fs::path tmp = fs::temp_directory_path() / ("flare_test_heldout_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::ifstream list(folder / "parts.txt");
  ASSERT_TRUE(list.good());
  std::set<std::string> listed;
  for (std::string line; std::getline(list, line);) {
    std::istringstream in(line);
    std::string name;
    double voxel = 0;
    ASSERT_TRUE(in >> name >> voxel) << line;
    listed.insert(name);
    const fs::path out = tmp / (name + ".vtu");
    const auto r = test::run_cli("am voxelize " + (folder / (name + ".stl")).string() + " --voxel " +
                                 std::to_string(voxel) + " -o " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.find("warning"), std::string::npos) << name << ": " << r.out;  // no defect, no island
    const mesh::Mesh m = mesh::read_mesh(out);
    EXPECT_GE(m.num_points(), 9000) << name;
    EXPECT_LE(m.num_points(), 18000) << name;
    EXPECT_NEAR(m.points.col(2).minCoeff(), 0.0, 1e-9) << name << " does not stand on the plate";
  }
  std::set<std::string> stls;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().extension() == ".stl") stls.insert(e.path().stem().string());
  EXPECT_EQ(stls, listed) << "parts.txt and the STLs in examples/heldout disagree";
  EXPECT_GE(listed.size(), 40u);  // ten, the six added later and three sets of eight fresh ones
  fs::remove_all(tmp);
}
