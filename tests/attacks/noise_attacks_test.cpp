#include "crmt/attacks/noise_attacks.h"
#include "crmt/attacks/embedding_attack.h"

#include <gtest/gtest.h>

#include "crmt/attacks/perturbation.h"
#include "crmt/data/data_factory.h"
#include "test_util.h"

namespace crmt {
namespace {

class NoiseAttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cfg = test::synthetic_config(test::temp_dir("noise_model"), 2, 3);
    cfg.set("data.synthetic.dim", "64");
    data_ = load_data(cfg, false);
    net_ = std::make_unique<MultiModalNet>(test::train_on(cfg, data_));
  }
  static void TearDownTestSuite() { net_.reset(); }
  static std::unique_ptr<MultiModalNet> net_;
  static DataSplits data_;
};
std::unique_ptr<MultiModalNet> NoiseAttackTest::net_;
DataSplits NoiseAttackTest::data_;

TEST_F(NoiseAttackTest, GaussianNoiseHasTheAskedStandardDeviation) {
  auto batch = data_.test.all();
  for (double sigma : {0.1, 0.5, 2.0}) {
    auto out = GaussianNoise(sigma, 7).perturb(*net_, batch, {0, 1});
    for (size_t m = 0; m < 2; ++m) {
      auto noise = out.inputs[m] - batch.inputs[m];
      EXPECT_NEAR(noise.std().item<double>(), sigma, 0.03 * sigma);
      EXPECT_NEAR(noise.mean().item<double>(), 0.0, 0.03 * sigma);
    }
  }
  auto only_first = GaussianNoise(1.0).perturb(*net_, batch, {0});
  EXPECT_TRUE(torch::equal(only_first.inputs[1], batch.inputs[1]));
}

TEST_F(NoiseAttackTest, PixelMissingRemovesTheAskedShare) {
  auto batch = data_.test.all();
  for (double p : {0.0, 0.3, 0.8}) {
    auto out = PixelMissing(p, 3).perturb(*net_, batch, {0, 1});
    for (size_t m = 0; m < 2; ++m) {
      auto zeroed = out.inputs[m].eq(0).logical_and(batch.inputs[m].ne(0)).to(torch::kDouble).mean().item<double>();
      EXPECT_NEAR(zeroed, p, 0.02);
      auto kept = out.inputs[m].ne(0);
      EXPECT_TRUE(torch::equal(out.inputs[m].masked_select(kept), batch.inputs[m].masked_select(kept)));
    }
  }
}

TEST_F(NoiseAttackTest, EmbeddingAttackPushesTheJointRepresentationAway) {
  auto batch = data_.test.all();
  const double eps = 1.0;
  auto adv = EmbeddingAttack(eps, 10).perturb(*net_, batch, {0, 1});
  std::vector<at::Tensor> deltas = {adv.inputs[0] - batch.inputs[0], adv.inputs[1] - batch.inputs[1]};
  EXPECT_LE(joint_norm(deltas).max().item<double>(), eps + 1e-5);
  // A random direction of the same size moves the embedding far less than the attack.
  auto random = joint_normalize({torch::randn_like(batch.inputs[0]), torch::randn_like(batch.inputs[1])});
  Batch noisy = batch;
  noisy.inputs[0] = batch.inputs[0] + eps * random[0];
  noisy.inputs[1] = batch.inputs[1] + eps * random[1];
  const double attacked = embedding_distance(*net_, batch, adv).mean().item<double>();
  const double baseline = embedding_distance(*net_, batch, noisy).mean().item<double>();
  EXPECT_GT(attacked, 1.5 * baseline) << "attack " << attacked << " random " << baseline;
  // More steps optimize the objective further.
  auto weak = EmbeddingAttack(eps, 1).perturb(*net_, batch, {0, 1});
  EXPECT_GE(attacked, embedding_distance(*net_, batch, weak).mean().item<double>() - 1e-6);
}

}  // namespace
}  // namespace crmt
