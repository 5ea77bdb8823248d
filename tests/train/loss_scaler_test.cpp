#include "crmt/train/loss_scaler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace crmt {
namespace {

torch::Tensor with_grad(std::vector<float> grad) {
  auto p = torch::zeros({static_cast<int64_t>(grad.size())}, torch::requires_grad());
  p.mutable_grad() = torch::tensor(grad);
  return p;
}

TEST(LossScaler, UnscalesFiniteGradientsInPlace) {
  LossScaler scaler(true, 1024.0);
  EXPECT_DOUBLE_EQ(scaler.scaled(torch::tensor(2.0)).item<double>(), 2048.0);
  auto p = with_grad({1024.0f, -2048.0f});
  EXPECT_TRUE(scaler.unscale({p}));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::tensor({1.0f, -2.0f})));
}

TEST(LossScaler, OverflowSkipsTheStepAndHalvesTheScale) {
  LossScaler scaler(true, 1024.0);
  auto ok = with_grad({1.0f});
  auto overflowed = with_grad({std::numeric_limits<float>::infinity()});
  const bool finite = scaler.unscale({ok, overflowed});
  EXPECT_FALSE(finite);
  scaler.update(finite);
  EXPECT_DOUBLE_EQ(scaler.scale(), 512.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  auto nan = with_grad({std::nanf("")});
  EXPECT_FALSE(scaler.unscale({nan}));
}

TEST(LossScaler, GrowsAfterCleanStepsAndDisabledPassesThrough) {
  LossScaler scaler(true, 8.0, /*growth_interval=*/3);
  for (int i = 0; i < 3; ++i) scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.scale(), 16.0);
  scaler.update(false);
  scaler.update(true);
  scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.scale(), 8.0) << "a skipped step restarts the count";

  LossScaler off(false);
  auto p = with_grad({std::numeric_limits<float>::infinity()});
  EXPECT_TRUE(off.unscale({p})) << "fp32 and bf16 never skip";
  EXPECT_DOUBLE_EQ(off.scaled(torch::tensor(3.0)).item<double>(), 3.0);
}

}  // namespace
}  // namespace crmt
