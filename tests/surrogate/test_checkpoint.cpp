#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "model_fixtures.h"
#include "surrogate/checkpoint.h"
#include "surrogate/h5.h"
#include "surrogate/param_layout.h"

namespace fs = std::filesystem;
using namespace flare;
using namespace flare::surrogate;

namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("flare_ckpt_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    ck.config = test_util::tiny_config(1);
    const ParamLayout layout(ck.config);
    ck.params = test_util::test_params<float>(layout, 21);
    ck.has_optimizer = true;
    ck.adam_m = test_util::normal_vector<float>(layout.size(), 22);
    ck.adam_v.assign(layout.size(), 0.25f);
    ck.step = 17;
    ck.normalizer = {{"mean", {1.0, 2.0}}, {"std", {3.0, 4.0}}};
    ck.training = {{"epochs", 5}};
  }
  void TearDown() override { fs::remove_all(dir); }

  // Writes a good checkpoint, then lets `edit` damage it through the raw HDF5 API.
  fs::path damaged(const std::string& name, const std::function<void(hid_t)>& edit) {
    const fs::path p = dir / name;
    save_checkpoint(p, ck);
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    edit(f);
    return p;
  }

  void expect_input_error(const fs::path& p, const std::string& needle) {
    try {
      load_checkpoint(p);
      FAIL() << "loaded " << p;
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    }
  }

  fs::path dir;
  Checkpoint ck;
};

TEST_F(CheckpointTest, RoundTripKeepsEverything) {
  const fs::path p = dir / "model.h5";
  save_checkpoint(p, ck);
  const Checkpoint back = load_checkpoint(p);
  EXPECT_EQ(back.config, ck.config);
  EXPECT_EQ(back.params, ck.params);
  EXPECT_TRUE(back.has_optimizer);
  EXPECT_EQ(back.adam_m, ck.adam_m);
  EXPECT_EQ(back.adam_v, ck.adam_v);
  EXPECT_EQ(back.step, 17);
  EXPECT_EQ(back.normalizer, ck.normalizer);
  EXPECT_TRUE(back.feature_recipe.is_null());
  EXPECT_EQ(back.training["epochs"], 5);
  // No temporary left behind by the atomic write.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  // Readable by name, as the PyTorch script reads it.
  h5::Handle f = h5::open_file(p);
  EXPECT_EQ(h5::read_attr_string(f, "format"), "flare-surrogate");
  EXPECT_EQ(h5::dataset_shape(f, "params/blocks.0.att.latent_q"),
            (std::vector<std::int64_t>{ck.config.channel_dim, ck.config.num_latents}));
}

TEST_F(CheckpointTest, InferenceOnlyCheckpointHasNoOptimizer) {
  ck.has_optimizer = false;
  const fs::path p = dir / "infer.h5";
  save_checkpoint(p, ck);
  const Checkpoint back = load_checkpoint(p);
  EXPECT_FALSE(back.has_optimizer);
  EXPECT_EQ(back.params, ck.params);
}

TEST_F(CheckpointTest, MissingFile) { expect_input_error(dir / "nope.h5", "not found"); }

TEST_F(CheckpointTest, NotHdf5) {
  const fs::path p = dir / "text.h5";
  std::ofstream(p) << "hello";
  expect_input_error(p, "not an HDF5 file");
}

TEST_F(CheckpointTest, TruncatedFile) {
  const fs::path p = dir / "trunc.h5";
  save_checkpoint(p, ck);
  fs::resize_file(p, fs::file_size(p) / 2);
  expect_input_error(p, "");
}

TEST_F(CheckpointTest, WrongFormat) {
  expect_input_error(damaged("fmt.h5", [](hid_t f) { h5::write_attr(f, "format", std::string("dataset")); }),
                     "format is 'dataset'");
}

TEST_F(CheckpointTest, WrongVersion) {
  expect_input_error(damaged("ver.h5", [](hid_t f) { h5::write_attr(f, "version", std::int64_t{99}); }),
                     "version 99");
}

TEST_F(CheckpointTest, BadConfig) {
  expect_input_error(damaged("cfg.h5",
                             [](hid_t f) { h5::write_attr(f, "config", std::string("{\"num_heads\": 3}")); }),
                     "divisible");
}

TEST_F(CheckpointTest, ShapeMismatch) {
  expect_input_error(damaged("shape.h5",
                             [](hid_t f) {
                               H5Ldelete(f, "params/blocks.1.mlp.fc1.weight", H5P_DEFAULT);
                               const std::vector<float> w(10, 0.0f);
                               h5::write_dataset(f, "params/blocks.1.mlp.fc1.weight", w.data(), {2, 5});
                             }),
                     "params/blocks.1.mlp.fc1.weight has shape [2,5]");
}

TEST_F(CheckpointTest, MissingTensor) {
  expect_input_error(
      damaged("missing.h5", [](hid_t f) { H5Ldelete(f, "params/out_proj.1.fc1.bias", H5P_DEFAULT); }),
      "params/out_proj.1.fc1.bias");
}

TEST_F(CheckpointTest, NanTensor) {
  const ParamLayout layout(ck.config);
  const auto* t = layout.find("blocks.0.att.k_proj.fc1.weight");
  ck.params[t->offset + 3] = std::numeric_limits<float>::quiet_NaN();
  const fs::path p = dir / "nan.h5";
  save_checkpoint(p, ck);
  expect_input_error(p, "tensor params/blocks.0.att.k_proj.fc1.weight holds a non-finite value");
}

TEST_F(CheckpointTest, InfInOptimizerState) {
  ck.adam_v[5] = std::numeric_limits<float>::infinity();
  const fs::path p = dir / "inf.h5";
  save_checkpoint(p, ck);
  expect_input_error(p, "optimizer/v holds a non-finite value");
}

// train --ema: params/ is the average, optimizer/params the weights AdamW updates.
TEST_F(CheckpointTest, OptimizerParamsRoundTripAndAreChecked) {
  EXPECT_TRUE(load_checkpoint([&] {
                const fs::path p = dir / "no_ema.h5";
                save_checkpoint(p, ck);
                return p;
              }())
                  .adam_params.empty());
  ck.adam_params = test_util::normal_vector<float>(ck.params.size(), 23);
  const fs::path p = dir / "ema.h5";
  save_checkpoint(p, ck);
  const Checkpoint back = load_checkpoint(p);
  EXPECT_EQ(back.adam_params, ck.adam_params);
  EXPECT_EQ(back.params, ck.params);
  ck.adam_params[2] = std::numeric_limits<float>::quiet_NaN();
  save_checkpoint(dir / "nan_iterate.h5", ck);
  expect_input_error(dir / "nan_iterate.h5", "optimizer/params holds a non-finite value");
  expect_input_error(damaged("short_iterate.h5",
                             [](hid_t f) {
                               H5Ldelete(f, "optimizer/params", H5P_DEFAULT);
                               const std::vector<float> w(4, 0.0f);
                               h5::write_dataset(f, "optimizer/params", w.data(), {4});
                             }),
                     "optimizer/params has shape [4]");
}

TEST_F(CheckpointTest, SavingDoesNotClobberOnFailure) {
  const fs::path p = dir / "keep.h5";
  save_checkpoint(p, ck);
  Checkpoint bad = ck;
  bad.params.resize(3);  // wrong size: save must throw before touching the target
  EXPECT_THROW(save_checkpoint(p, bad), Error);
  EXPECT_EQ(load_checkpoint(p).params, ck.params);
}

// An ensemble (members 1..K-1 beside params/) round-trips as version 2; a single model stays
// version 1 so that builds which predate ensembles keep reading it.
TEST_F(CheckpointTest, EnsembleRoundTripsAsVersion2) {
  const std::int64_t P = ParamLayout(ck.config).size();
  Checkpoint e = ck;
  e.has_optimizer = false;
  e.adam_m.clear();
  e.adam_v.clear();
  e.more_members = {test_util::normal_vector<float>(P, 31), test_util::normal_vector<float>(P, 32)};
  e.ensemble = {{"members", 3}, {"sigma_scale", 2.5}, {"warn_score", 0.35}};
  const fs::path p = dir / "ens.h5";
  save_checkpoint(p, e);
  const Checkpoint back = load_checkpoint(p);
  ASSERT_EQ(back.num_members(), 3);
  EXPECT_EQ(back.member(0), e.params);
  EXPECT_EQ(back.member(1), e.more_members[0]);
  EXPECT_EQ(back.member(2), e.more_members[1]);
  EXPECT_EQ(back.ensemble, e.ensemble);
  h5::Handle f = h5::open_file(p);
  EXPECT_EQ(h5::read_attr_int(f, "version"), kEnsembleCheckpointVersion);
  save_checkpoint(dir / "single.h5", ck);
  EXPECT_EQ(h5::read_attr_int(h5::open_file(dir / "single.h5"), "version"), kCheckpointVersion);
  EXPECT_TRUE(load_checkpoint(dir / "single.h5").more_members.empty());
  Checkpoint with_optimizer = e;
  with_optimizer.has_optimizer = true;
  with_optimizer.adam_m = with_optimizer.adam_v = e.params;
  EXPECT_THROW(save_checkpoint(dir / "bad.h5", with_optimizer), Error);
}

TEST_F(CheckpointTest, DamagedEnsemblesAreRefused) {
  const std::int64_t P = ParamLayout(ck.config).size();
  ck.has_optimizer = false;
  ck.more_members = {test_util::normal_vector<float>(P, 33)};
  ck.ensemble = {{"members", 2}, {"sigma_scale", 1.0}, {"warn_score", 0.35}};
  expect_input_error(damaged("count.h5",
                             [](hid_t f) {
                               H5Adelete(f, "ensemble");
                               h5::write_attr_json(f, "ensemble", {{"members", 3}});
                             }),
                     "the ensemble record says 3 members but the file holds 2");
  expect_input_error(damaged("no_members.h5", [](hid_t f) { H5Ldelete(f, "members", H5P_DEFAULT); }),
                     "without its ensemble record or members");
  const std::string name = ParamLayout(ck.config).tensors().front().name;
  expect_input_error(damaged("nan_member.h5",
                             [&](hid_t f) {
                               const std::string ds = "members/1/" + name;
                               const auto shape = h5::dataset_shape(f, ds);
                               std::int64_t n = 1;
                               for (auto d : shape) n *= d;
                               std::vector<float> w(std::size_t(n), std::nanf(""));
                               H5Ldelete(f, ds.c_str(), H5P_DEFAULT);
                               h5::write_dataset(f, ds, w.data(), shape);
                             }),
                     "tensor members/1/" + name + " holds a non-finite value");
}

}  // namespace
