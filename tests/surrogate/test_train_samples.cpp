// Where the trainer's samples live (surrogate/train_samples.h) and the augmentation's column maps.
#include <gtest/gtest.h>

#include <random>

#include "surrogate/augment.h"
#include "surrogate/train_samples.h"

using namespace flare;
using namespace flare::surrogate;

namespace {

std::vector<mesh::FeatureMatrix> random_samples(std::vector<std::int64_t> rows, int cols,
                                                std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<mesh::FeatureMatrix> out;
  for (auto n : rows) {
    mesh::FeatureMatrix m(n, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = nd(rng);
    out.push_back(m);
  }
  return out;
}

}  // namespace

// Resident (one array in the table's memory) and streamed (a table that reports no free memory:
// each sample uploaded when placed) give the same rows, column maps and slices included.
TEST(TrainSamples, ResidentAndStreamedPlaceTheSameRows) {
  const std::vector<std::int64_t> rows = {5, 9, 3};
  const int F = 7, T = 3;
  const auto xs0 = random_samples(rows, F, 1), ys0 = random_samples(rows, T, 2);
  OpTable<float> resident_ops = cpu_ops(), streamed_ops = cpu_ops();
  streamed_ops.mem.free_bytes = [](void*) { return std::size_t(0); };
  auto xr = xs0, yr = ys0, xt = xs0, yt = ys0;
  TrainSamples<float> resident(resident_ops, xr, yr), streamed(streamed_ops, xt, yt);
  EXPECT_TRUE(resident.resident());
  EXPECT_FALSE(streamed.resident());
  EXPECT_EQ(xr[0].size(), 0) << "a resident store releases the host copies";
  EXPECT_EQ(resident.rows(1), 9);
  EXPECT_EQ(resident.bytes(), 17 * (F + T) * 4);

  kernels::ColumnMap fx = kernels::ColumnMap::identity(F), fy = kernels::ColumnMap::identity(T);
  fx.from[0] = 1, fx.from[1] = 0, fx.sign[0] = -1.f;  // a quarter turn of (x, y)
  fy.sign[1] = -1.f;
  std::vector<float> x1(20 * F, 0.f), y1(20 * T, 0.f), x2 = x1, y2 = y1;
  // Sample 1 rows [2, 8) at row 4, then sample 2 whole at row 10.
  resident.place(1, 2, 8, fx, fy, x1.data(), y1.data(), 4);
  resident.place(2, 0, 3, fx, fy, x1.data(), y1.data(), 10);
  streamed.place(1, 2, 8, fx, fy, x2.data(), y2.data(), 4);
  streamed.place(2, 0, 3, fx, fy, x2.data(), y2.data(), 10);
  EXPECT_EQ(x1, x2);
  EXPECT_EQ(y1, y2);
  for (int r = 0; r < 6; ++r) {
    EXPECT_EQ(x1[(4 + r) * F + 0], -xs0[1](2 + r, 1));
    EXPECT_EQ(x1[(4 + r) * F + 1], xs0[1](2 + r, 0));
    EXPECT_EQ(x1[(4 + r) * F + 5], xs0[1](2 + r, 5));
    EXPECT_EQ(y1[(4 + r) * T + 1], -ys0[1](2 + r, 1));
  }
  EXPECT_EQ(x1[3 * F], 0.f) << "rows outside the placed ones are untouched";
  EXPECT_THROW(resident.place(0, 0, 6, fx, fy, x1.data(), y1.data(), 0), Error);
}

// The column map of each of the 8 poses is PlaneTransform::apply on every in-plane pair and the
// identity elsewhere.
TEST(PlaneAugmenter, ColumnMapsAreThePlaneTransforms) {
  mesh::PlaneSymmetry sym;
  sym.pairs = {{0, 1}, {4, 5}};
  const float row[7] = {1.5f, -2.f, 3.f, 4.f, 0.25f, 7.f, -1.f};
  for (int g = 0; g < 8; ++g) {
    const kernels::ColumnMap map = PlaneAugmenter::column_map(sym, g, 7);
    float want[7];
    std::copy(row, row + 7, want);
    const PlaneTransform t = PlaneTransform::element(g);
    t.apply(want[0], want[1]);
    t.apply(want[4], want[5]);
    for (int c = 0; c < 7; ++c) EXPECT_EQ(map.sign[c] * row[map.from[c]], want[c]) << g << c;
    EXPECT_EQ(map.is_identity(), g == 0);
  }
}
