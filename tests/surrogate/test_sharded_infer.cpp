// Point-sharded inference (Model::set_point_shards): every rank infers its slice of one mesh's
// points and gets its slice of the unsharded output. ctest runs this binary as one process and, on
// a build with MPI, as 2 ranks under mpirun (test_sharded_infer_mpi); each rank also computes the
// unsharded reference itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "model_fixtures.h"
#include "surrogate/comm.h"
#include "surrogate/model.h"

using namespace flare;
using namespace flare::surrogate;

namespace {

Comm& comm() {
  static const std::unique_ptr<Comm> c = make_comm();
  return *c;
}

struct Sharded : ::testing::TestWithParam<int> {
  ModelConfig config = test_util::tiny_config(GetParam());
  ParamLayout layout{config};
  std::vector<float> params = test_util::test_params<float>(layout, 11);
  static constexpr std::int64_t N = 101;
  std::vector<float> x, y_full;

  void SetUp() override {
    std::mt19937_64 rng(5);
    std::normal_distribution<float> normal;
    x.resize(std::size_t(N * config.in_dim));
    for (float& v : x) v = normal(rng);
    y_full.resize(std::size_t(N * config.out_dim));
    Model<float> model(layout, cpu_ops());
    const std::int64_t offsets[2] = {0, N};
    model.infer(params.data(), x.data(), offsets, 1, y_full.data());
  }

  // This rank's output for rows [lo, hi), sharded or not.
  std::vector<float> infer_rows(std::int64_t lo, std::int64_t hi, bool shard) {
    Model<float> model(layout, cpu_ops());
    if (shard) model.set_point_shards(&comm());
    std::vector<float> y(std::size_t((hi - lo) * config.out_dim));
    const std::int64_t offsets[2] = {0, hi - lo};
    model.infer(params.data(), x.data() + lo * config.in_dim, offsets, 1, y.data());
    return y;
  }

  // max |y − y_full[lo, hi)| over max |y_full|.
  double rel_error(const std::vector<float>& y, std::int64_t lo) const {
    double err = 0, scale = 1e-6;
    for (float v : y_full) scale = std::max(scale, double(std::fabs(v)));
    for (std::size_t i = 0; i < y.size(); ++i)
      err = std::max(err, double(std::fabs(y[i] - y_full[std::size_t(lo * config.out_dim) + i])));
    return err / scale;
  }
};

// fp32 softmax sums over ~50 points merged in another order: a few ulps of the outputs.
constexpr double kTol = 1e-5;

}  // namespace

TEST_P(Sharded, EveryRankGetsItsSliceOfTheUnshardedOutput) {
  const int r = comm().rank(), n = comm().size();
  const std::int64_t lo = N * r / n, hi = N * (r + 1) / n;
  EXPECT_LT(rel_error(infer_rows(lo, hi, true), lo), kTol);
  // Without the merge each rank's softmax sees only its own points: the check above can fail.
  if (n > 1) EXPECT_GT(rel_error(infer_rows(lo, hi, false), lo), 100 * kTol);
}

TEST_P(Sharded, RanksWithoutPointsContributeNothing) {
  const int r = comm().rank();
  const std::int64_t lo = r == 0 ? 0 : N, hi = N;  // rank 0 holds every point
  const auto y = infer_rows(lo, hi, true);
  EXPECT_EQ(y.size(), std::size_t((hi - lo) * config.out_dim));
  EXPECT_LT(rel_error(y, lo), kTol);
}

INSTANTIATE_TEST_SUITE_P(Variants, Sharded, ::testing::Values(0, 1, 2));
