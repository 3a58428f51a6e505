// Training domain: ranges, the reasons predict warns with, JSON round trip.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "mesh/grid.h"
#include "surrogate/domain.h"

using namespace flare;
using namespace flare::surrogate;

namespace {
MeshShape shape(std::int64_t nodes, double extent, double edge) {
  return {nodes, {extent, extent, extent}, edge};
}
}  // namespace

TEST(TrainingDomain, RangesAndReasons) {
  TrainingDomain d;
  EXPECT_EQ(d.outside_reasons(shape(1000000, 100, 5)), "");  // no domain recorded: no warning
  d.add(shape(5000, 20, 0.5));
  d.add(shape(20000, 40, 0.5));
  d.add(shape(10000, 30, 1.0));
  EXPECT_EQ(d.samples, 3);
  EXPECT_EQ(d.min_nodes, 5000);
  EXPECT_EQ(d.max_nodes, 20000);
  EXPECT_DOUBLE_EQ(d.max_extent[1], 40);
  EXPECT_DOUBLE_EQ(d.min_edge, 0.5);
  EXPECT_DOUBLE_EQ(d.max_edge, 1.0);

  EXPECT_EQ(d.outside_reasons(shape(30000, 50, 0.4)), "");  // all within the tolerances
  EXPECT_EQ(d.outside_reasons(shape(100, 1, 1.3)), "");     // small parts are not flagged
  const std::string big = d.outside_reasons(shape(30001, 40, 0.5));
  EXPECT_NE(big.find("30001 nodes > 1.5 x the largest training part (20000)"), std::string::npos) << big;
  MeshShape tall = shape(10000, 30, 0.5);
  tall.extent[2] = 51;
  const std::string z = d.outside_reasons(tall);
  EXPECT_NE(z.find("z extent 51 > 1.25 x the largest in training (40)"), std::string::npos) << z;
  EXPECT_EQ(z.find("x extent"), std::string::npos) << z;
  EXPECT_NE(d.outside_reasons(shape(10000, 30, 0.37)).find("voxel size"), std::string::npos);
  EXPECT_NE(d.outside_reasons(shape(10000, 30, 1.34)).find("voxel size"), std::string::npos);
  const std::string all = d.outside_reasons(shape(40000, 60, 2.0));
  EXPECT_EQ(std::count(all.begin(), all.end(), ';'), 4) << all;  // nodes, x, y, z, edge
  EXPECT_EQ(all.find('\n'), std::string::npos);

  const TrainingDomain back = TrainingDomain::from_json(d.to_json(), "x");
  EXPECT_EQ(back.to_json(), d.to_json());
  EXPECT_THROW(TrainingDomain::from_json(nlohmann::json{{"samples", 1}}, "m.h5"), InputError);
}

TEST(TrainingDomain, MeasureShapeOfAGrid) {
  const mesh::Mesh g = mesh::hex_grid(4, 2, 3, 0.25);
  const MeshShape s = measure_shape(g);
  EXPECT_EQ(s.nodes, 5 * 3 * 4);
  EXPECT_DOUBLE_EQ(s.extent[0], 1.0);
  EXPECT_DOUBLE_EQ(s.extent[1], 0.5);
  EXPECT_DOUBLE_EQ(s.extent[2], 0.75);
  EXPECT_DOUBLE_EQ(s.edge, 0.25);
}

// A surface mesh for a model trained on volume meshes is refused, with the voxelize command.
TEST(TrainingDomain, DimensionMismatchIsARefusalWithAFix) {
  TrainingDomain d;
  MeshShape volume = shape(5000, 20, 0.5), surface = shape(800, 20, 0.5);
  volume.dim = 3;
  surface.dim = 2;
  EXPECT_EQ(d.dimension_mismatch(surface), "");  // nothing recorded yet
  d.add(volume);
  volume.edge = 1.0;
  d.add(volume);
  EXPECT_EQ(d.dimension_mismatch(volume), "");
  const std::string why = d.dimension_mismatch(surface);
  EXPECT_NE(why.find("a surface mesh, but the model was trained on volume meshes"), std::string::npos) << why;
  EXPECT_NE(why.find("am voxelize"), std::string::npos) << why;
  EXPECT_NE(why.find("training voxel sizes 0.5 .. 1"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos);
  const TrainingDomain back = TrainingDomain::from_json(d.to_json(), "x");
  EXPECT_EQ(back.max_dim, 3);
  // Domains written before the dimension was kept: unknown, no refusal.
  nlohmann::json old = d.to_json();
  old.erase("dimension");
  EXPECT_EQ(TrainingDomain::from_json(old, "old.h5").dimension_mismatch(surface), "");
}
