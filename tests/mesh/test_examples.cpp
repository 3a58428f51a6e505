// The bundled example mesh (README quick start) is generated here, so it can be rebuilt and is
// checked against its definition:
//   FLARE_REGENERATE_EXAMPLES=1 build/tests/mesh/test_mesh_io --gtest_filter='Examples.*'
#include <gtest/gtest.h>

#include <cstdlib>

#include "mesh/grid.h"
#include "mesh/io.h"
#include "mesh/measure.h"
#include "mesh_fixtures.h"

using namespace flare::mesh;
using namespace flare::mesh::test;

namespace {

// L-bracket in millimetres: a 64 × 24 × 8 base plate and an 8 mm thick wall rising to 48 mm at
// x = 0, on 2 mm hexahedra. Point array: height above the plate (what a build-direction feature
// looks like), and the material as field metadata.
Mesh bracket() {
  const double h = 2.0;
  Mesh m = hex_grid(32, 12, 24, h, [](int i, int, int k) { return k < 4 || i < 4; });
  std::vector<float> height(std::size_t(m.num_points()));
  for (std::int64_t p = 0; p < m.num_points(); ++p) height[p] = float(m.points(p, 2));
  m.point_data.put(DataArray::from_floats("height", 1, height));
  m.field_strings["material"] = "Ti-6Al-4V";
  m.field_strings["units"] = "mm";
  return m;
}

TEST(Examples, BracketMatchesItsDefinition) {
  const fs::path file = fs::path(FLARE_SOURCE_DIR) / "examples/meshes/bracket.vtu";
  const Mesh want = bracket();
  if (std::getenv("FLARE_REGENERATE_EXAMPLES")) write_vtu(want, file);
  ASSERT_TRUE(fs::exists(file)) << file << " is missing (see this test's header to rebuild it)";
  EXPECT_LT(fs::file_size(file), 200u * 1000u);
  const Mesh got = read_mesh(file);
  expect_same_mesh(want, got);
  // Base 64×24×8 plus wall 8×24×40 above it.
  EXPECT_DOUBLE_EQ(mesh_volume(got), 64.0 * 24 * 8 + 8.0 * 24 * 40);
  EXPECT_GT(got.num_points(), 2000);
}

}  // namespace
