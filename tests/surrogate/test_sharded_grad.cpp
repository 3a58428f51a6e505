// The backward of point-sharded FLARE (Model::set_point_shards): every rank runs forward() and
// backward() on its slice of the points of each mesh, and the sum over the ranks of their parameter
// gradients equals the unsharded gradient. ctest runs this binary as one process and, on a build
// with MPI, as 2 ranks under mpirun (test_sharded_grad_mpi); each rank also computes the unsharded
// reference itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
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

// A batch of meshes with fixed inputs and a fixed output gradient dy: the gradient of the loss
// Σ dy·y, whose restriction to a slice of points is that slice's part of the loss.
struct Batch {
  std::vector<std::int64_t> sizes;  // points per mesh
  std::vector<float> x, dy;         // [ΣN, F], [ΣN, T]
};

// Which rows of mesh b of `sizes` this rank holds: its point_slice, or for `all_on_rank0` meshes
// every row on rank 0 and none elsewhere.
using SliceOf = PointSlice (*)(std::int64_t n, int b);

PointSlice even_slices(std::int64_t n, int) { return point_slice(n, comm().rank(), comm().size()); }
// Mesh 0 lies wholly on rank 0, so every other rank holds none of its points; mesh 1 is split.
PointSlice first_mesh_on_rank0(std::int64_t n, int b) {
  if (b == 0) return comm().rank() == 0 ? PointSlice{0, n} : PointSlice{n, n};
  return point_slice(n, comm().rank(), comm().size());
}

struct ShardedGrad : ::testing::TestWithParam<int> {
  ModelConfig config = test_util::tiny_config(GetParam());
  ParamLayout layout{config};
  std::vector<float> params = test_util::test_params<float>(layout, 11);

  Batch batch(std::vector<std::int64_t> sizes) const {
    Batch b;
    b.sizes = std::move(sizes);
    std::int64_t n = 0;
    for (auto s : b.sizes) n += s;
    b.x = test_util::normal_vector<float>(n * config.in_dim, 5);
    b.dy = test_util::normal_vector<float>(n * config.out_dim, 6);
    return b;
  }

  // The gradient of the whole batch in one process.
  std::vector<float> unsharded(const Batch& b) const {
    Model<float> model(layout, cpu_ops());
    std::vector<std::int64_t> offsets{0};
    for (auto s : b.sizes) offsets.push_back(offsets.back() + s);
    std::vector<float> y(b.dy.size()), grads(params.size(), 0.0f);
    model.forward(params.data(), b.x.data(), offsets.data(), int(b.sizes.size()), y.data());
    model.backward(params.data(), b.dy.data(), grads.data());
    return grads;
  }

  // This rank's rows of every mesh through one model, then the gradients summed over the ranks.
  // `shard` off runs each rank's slices as if they were whole meshes (no merge, no dZ sum).
  std::vector<float> sharded(const Batch& b, SliceOf slice, bool shard, bool recompute) const {
    const int F = config.in_dim, T = config.out_dim;
    std::vector<float> x, dy;
    std::vector<std::int64_t> offsets{0};
    std::int64_t mesh0 = 0;
    for (std::size_t k = 0; k < b.sizes.size(); ++k) {
      const PointSlice s = slice(b.sizes[k], int(k));
      const std::int64_t lo = mesh0 + s.lo, hi = mesh0 + s.hi;
      x.insert(x.end(), b.x.begin() + lo * F, b.x.begin() + hi * F);
      dy.insert(dy.end(), b.dy.begin() + lo * T, b.dy.begin() + hi * T);
      offsets.push_back(offsets.back() + s.size());
      mesh0 += b.sizes[k];
    }
    Model<float> model(layout, cpu_ops());
    if (shard) model.set_point_shards(&comm());
    model.set_recompute(recompute);
    std::vector<float> y(dy.size()), grads(params.size(), 0.0f);
    model.forward(params.data(), x.data(), offsets.data(), int(b.sizes.size()), y.data());
    model.backward(params.data(), dy.data(), grads.data());
    comm().allreduce_sum(grads.data(), std::int64_t(grads.size()), host_memory());
    return grads;
  }
};

// max |a − b| / max |b|.
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 1e-12;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

// fp32 sums over ~50 points in another order, through two blocks and a merged softmax: measured
// up to ~1e-6 of the largest gradient; 2e-5 leaves room for other thread counts and compilers.
constexpr double kTol = 2e-5;

}  // namespace

TEST_P(ShardedGrad, SummedGradientsEqualTheUnshardedOnes) {
  const Batch b = batch({101});
  const double d = rel_diff(sharded(b, even_slices, true, false), unsharded(b));
  std::ostringstream text;
  text << std::scientific << d;
  RecordProperty("max_rel_diff", text.str());
  EXPECT_LT(d, kTol);
  // Without the merged softmax and the dZ sum each rank differentiates its own small meshes: the
  // check above can fail.
  if (comm().size() > 1)
    EXPECT_GT(rel_diff(sharded(b, even_slices, false, false), unsharded(b)), 100 * kTol);
}

TEST_P(ShardedGrad, SeveralMeshesPerBatch) {
  const Batch b = batch({64, 37, 9});
  EXPECT_LT(rel_diff(sharded(b, even_slices, true, false), unsharded(b)), kTol);
}

TEST_P(ShardedGrad, RanksWithoutPointsOfAMeshContributeNothing) {
  const Batch b = batch({23, 50});
  EXPECT_LT(rel_diff(sharded(b, first_mesh_on_rank0, true, false), unsharded(b)), kTol);
}

TEST_P(ShardedGrad, RecomputingBlocksGivesTheSameGradients) {
  // The recomputed forward of each block merges its softmax again: a collective in the backward.
  const Batch b = batch({101});
  const std::vector<float> kept = sharded(b, even_slices, true, false);
  EXPECT_EQ(sharded(b, even_slices, true, true), kept);
}

TEST_P(ShardedGrad, EveryRankEndsWithTheSameGradients) {
  const Batch b = batch({77});
  std::vector<float> g = sharded(b, even_slices, true, false);
  EXPECT_EQ(check_replicas(comm(), g.data(), std::int64_t(g.size())),
            checksum(g.data(), std::int64_t(g.size())));
}

INSTANTIATE_TEST_SUITE_P(Variants, ShardedGrad, ::testing::Values(0, 1, 2));
