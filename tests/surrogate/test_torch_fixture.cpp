// Our fp32 CPU model against the project's float64 PyTorch implementation
// (tests/reference/flare_torch.py; regenerate with the command in tests/reference/README.md):
// outputs, loss, per-mesh relative L2, every parameter gradient, and 5 AdamW steps with FLARE.py's
// decay groups and global gradient-norm clipping.
//
// Tolerances. Parameters and inputs in the fixture are fp32 values, so the only difference is our
// fp32 rounding. A dot product of length n in fp32 has relative error up to ~n·u in the worst
// case and ~√n·u typically (u = 2^-24 ≈ 6e-8); the model chains K ≈ 25 such reductions per block
// (norms, 5-layer MLPs, softmaxes) over L = 2 blocks, lengths up to n = 37 (points of a mesh).
// Errors of successive ops add, so the expected relative error is about K·L·√n·u ≈ 2e-5;
// we allow 4× that, tol = 4·K·L·√n·u, measured per tensor relative to its largest entry
// (elementwise relative error is meaningless for entries that are near zero by cancellation).
// AdamW: the first step's update is lr·g/(|g|+eps) ≈ ±lr, so an entry whose gradient is at the
// fp32 noise level can take the opposite sign; the parameter check therefore compares norms of
// the change (‖Δp_ours − Δp_torch‖ ≤ 1e-3·‖Δp_torch‖) and the losses at 10·tol.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "surrogate/h5.h"
#include "surrogate/loss.h"
#include "surrogate/model.h"
#include "surrogate/optimizer.h"

using namespace flare;
using namespace flare::surrogate;

namespace {

constexpr double kU = 5.960464477539063e-08;  // 2^-24

struct Case {
  ModelConfig config;
  std::vector<float> params, x, y;
  std::vector<std::int64_t> offsets;
};

double rel_err(const float* a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - ref[i]));
    den = std::max(den, std::fabs(ref[i]));
  }
  return num / std::max(den, 1e-30);
}

class TorchFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    file = h5::open_file(std::string(FLARE_TEST_DATA_DIR) + "/flare_torch_fixture.h5");
    group = h5::open_group(file, GetParam());
    config = config_from_json(h5::read_attr_json(group, "config"), "fixture");
    layout = std::make_unique<ParamLayout>(config);
    params.resize(layout->size());
    for (const auto& t : layout->tensors()) {
      ASSERT_EQ(h5::dataset_shape(group, "params/" + t.name), t.shape) << t.name;
      h5::read_dataset(group, "params/" + t.name, params.data() + t.offset, t.size);
    }
    x = h5::read_dataset<float>(group, "x");
    y = h5::read_dataset<float>(group, "y");
    offsets = h5::read_dataset<std::int64_t>(group, "offsets");
    B = int(offsets.size()) - 1;
    N = offsets.back();
    // K ≈ 25 reductions per block, L blocks, longest reduction = largest mesh.
    std::int64_t n_max = 0;
    for (int b = 0; b < B; ++b) n_max = std::max(n_max, offsets[b + 1] - offsets[b]);
    tol = 4.0 * 25 * config.num_blocks * std::sqrt(double(n_max)) * kU;
  }
  h5::Handle file, group;
  ModelConfig config;
  std::unique_ptr<ParamLayout> layout;
  std::vector<float> params, x, y;
  std::vector<std::int64_t> offsets;
  int B = 0;
  std::int64_t N = 0;
  double tol = 0;
};

TEST_P(TorchFixture, OutputsLossAndEveryGradient) {
  Model<float> model(*layout, cpu_ops());
  const int T = config.out_dim;
  std::vector<float> pred(N * T), dy(N * T), grads(params.size(), 0.0f);
  model.forward(params.data(), x.data(), offsets.data(), B, pred.data());
  const double loss = mse_loss(pred.data(), y.data(), N * T, dy.data());
  model.backward(params.data(), dy.data(), grads.data());

  const double e_pred = rel_err(pred.data(), h5::read_dataset<double>(group, "pred"));
  EXPECT_LT(e_pred, tol) << "outputs";
  const double ref_loss = h5::read_attr_double(group, "loss");
  EXPECT_LT(std::fabs(loss - ref_loss) / ref_loss, tol) << loss << " vs " << ref_loss;
  const auto rl2 = rel_l2(pred.data(), y.data(), offsets.data(), B, T);
  const auto ref_rl2 = h5::read_dataset<double>(group, "rel_l2");
  for (int b = 0; b < B; ++b) EXPECT_LT(std::fabs(rl2[b] - ref_rl2[b]) / ref_rl2[b], tol);

  double worst = 0;
  std::string worst_name;
  for (const auto& t : layout->tensors()) {
    const auto ref = h5::read_dataset<double>(group, "grads/" + t.name);
    ASSERT_EQ(std::int64_t(ref.size()), t.size);
    const double e = rel_err(grads.data() + t.offset, ref);
    if (e > worst) {
      worst = e;
      worst_name = t.name;
    }
    EXPECT_LT(e, tol) << "gradient of " << t.name;
  }
  std::printf("[%s] max relative error: outputs %.2e, loss %.2e, gradients %.2e (%s); tol %.2e\n",
              GetParam().c_str(), e_pred, std::fabs(loss - ref_loss) / ref_loss, worst,
              worst_name.c_str(), tol);
}

TEST_P(TorchFixture, FiveAdamWStepsWithClipping) {
  h5::Handle adam = h5::open_group(group, "adamw");
  AdamWConfig hp;
  hp.lr = float(h5::read_attr_double(adam, "lr"));
  hp.beta1 = float(h5::read_attr_double(adam, "beta1"));
  hp.beta2 = float(h5::read_attr_double(adam, "beta2"));
  hp.eps = float(h5::read_attr_double(adam, "eps"));
  hp.weight_decay = float(h5::read_attr_double(adam, "weight_decay"));
  hp.clip_norm = h5::read_attr_double(adam, "clip");
  const auto ref_losses = h5::read_dataset<double>(adam, "losses");
  const auto ref_norms = h5::read_dataset<double>(adam, "grad_norms");
  ASSERT_EQ(ref_losses.size(), 6u);

  Model<float> model(*layout, cpu_ops());
  AdamW opt(*layout, hp);
  const int T = config.out_dim;
  std::vector<float> p = params, pred(N * T), dy(N * T), grads(p.size());
  double worst_loss = 0;
  for (int step = 0; step < 5; ++step) {
    model.forward(p.data(), x.data(), offsets.data(), B, pred.data());
    const double loss = mse_loss(pred.data(), y.data(), N * T, dy.data());
    worst_loss = std::max(worst_loss, std::fabs(loss - ref_losses[step]) / ref_losses[step]);
    std::fill(grads.begin(), grads.end(), 0.0f);
    model.backward(p.data(), dy.data(), grads.data());
    opt.step(p.data(), grads.data());
    const double norm = opt.last_grad_norm();
    EXPECT_LT(std::fabs(norm - ref_norms[step]) / ref_norms[step], tol) << "grad norm, step " << step;
  }
  model.infer(p.data(), x.data(), offsets.data(), B, pred.data());
  const double last = mse_loss(pred.data(), y.data(), N * T, nullptr);
  worst_loss = std::max(worst_loss, std::fabs(last - ref_losses[5]) / ref_losses[5]);
  EXPECT_LT(worst_loss, 10 * tol);

  double num = 0, den = 0;
  for (const auto& t : layout->tensors()) {
    const auto ref = h5::read_dataset<double>(adam, "params/" + t.name);
    for (std::int64_t i = 0; i < t.size; ++i) {
      const double d_ref = ref[i] - params[t.offset + i];
      const double d_ours = double(p[t.offset + i]) - params[t.offset + i];
      num += (d_ours - d_ref) * (d_ours - d_ref);
      den += d_ref * d_ref;
    }
  }
  const double e_params = std::sqrt(num / den);
  EXPECT_LT(e_params, 1e-3) << "parameter change after 5 steps";
  std::printf("[%s] AdamW: max relative loss error %.2e over 6 losses, relative error of the "
              "parameter change %.2e\n",
              GetParam().c_str(), worst_loss, e_params);
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchFixture, ::testing::Values("default", "variants"));

}  // namespace
