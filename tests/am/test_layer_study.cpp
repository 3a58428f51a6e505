// The layering study's comparisons and its choice of the default layer height.
#include <gtest/gtest.h>

#include <cmath>

#include "am/layer_study.h"
#include "tests/am/voxel_part.h"

using namespace flare;
using namespace flare::am;

namespace {

mesh::Mesh with_field(mesh::Mesh m, double scale, double wiggle) {
  std::vector<double> u(std::size_t(3 * m.num_points()));
  for (std::int64_t i = 0; i < m.num_points(); ++i)
    for (int c = 0; c < 3; ++c)
      u[std::size_t(3 * i + c)] = scale * (m.points(i, 0) + c) + wiggle * std::sin(40.0 * m.points(i, 2));
  m.point_data.put(mesh::DataArray::from_doubles("displacement", 3, u));
  return m;
}

}  // namespace

TEST(LayerStudy, ComparesOnSharedNodesOfAHalvedGrid) {
  auto full = [](int, int, int) { return true; };
  const mesh::Mesh coarse = with_field(am::test::voxel_part(4, 3, 2, 1.0, full), 1.0, 0.0);
  const mesh::Mesh fine = with_field(am::test::voxel_part(8, 6, 4, 0.5, full), 1.0, 0.0);
  std::int64_t shared = 0;
  EXPECT_LT(shared_node_difference(coarse, fine, "displacement", &shared), 1e-12);
  EXPECT_EQ(shared, coarse.num_points());  // every coarse node is a fine node
  const mesh::Mesh scaled = with_field(am::test::voxel_part(8, 6, 4, 0.5, full), 1.1, 0.0);
  EXPECT_NEAR(shared_node_difference(coarse, scaled, "displacement"), 0.1 / 1.1, 1e-9);
}

TEST(LayerStudy, TheSmoothComparisonIgnoresAFineRipple) {
  auto full = [](int, int, int) { return true; };
  const mesh::Mesh a = with_field(am::test::voxel_part(8, 8, 16, 0.25, full), 1.0, 0.0);
  const mesh::Mesh b = with_field(am::test::voxel_part(8, 8, 16, 0.25, full), 1.0, 0.3);
  const double pointwise = shared_node_difference(a, b, "displacement");
  const double smooth = smooth_difference(a, b, "displacement", 2.0);
  EXPECT_GT(pointwise, 0.05);
  EXPECT_LT(smooth, 0.5 * pointwise);
}

TEST(LayerStudy, ChoosesTheCoarsestLayeringWithinTargetOnEveryPart) {
  auto row = [](const char* part, double voxel, double layer, double d) {
    StudyRow r;
    r.part = part;
    r.voxel = voxel;
    r.layer = layer;
    r.to_half_layer = d;
    return r;
  };
  // Part a converges at 1 mm, part b at 0.5 mm; the coarse voxel of a is ignored.
  std::vector<StudyRow> rows = {row("a", 1.0, 4, 0.01),  row("a", 0.5, 4, 0.3), row("a", 0.5, 2, 0.1),
                                row("a", 0.5, 1, 0.04),  row("a", 0.5, 0.5, -1), row("b", 0.25, 2, 0.2),
                                row("b", 0.25, 1, 0.08), row("b", 0.25, 0.5, 0.03), row("b", 0.25, 0.25, -1)};
  StudyChoice c = choose_layer_height(rows, 0.05);
  EXPECT_TRUE(c.within);
  EXPECT_DOUBLE_EQ(c.layer, 0.5);
  EXPECT_DOUBLE_EQ(c.worst, 0.04);
  // A tighter target: neither part has a layering within it; each gives its finest, with the
  // last difference as the gap left.
  c = choose_layer_height(rows, 0.02);
  EXPECT_FALSE(c.within);
  EXPECT_DOUBLE_EQ(c.layer, 0.25);
  EXPECT_DOUBLE_EQ(c.worst, 0.04);
}
