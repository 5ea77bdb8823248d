#include "crmt/core/precision.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_util.h"

namespace crmt {
namespace {

const c10::Device kCpu(c10::kCPU);

TEST(Precision, ParsesNamesAndRefusesFp16OnTheCpu) {
  EXPECT_EQ(parse_precision("fp32", kCpu), Precision::FP32);
  EXPECT_EQ(parse_precision("bf16", kCpu), Precision::BF16);
  EXPECT_EQ(precision_name(Precision::BF16), "bf16");
  EXPECT_NE(test::error_of([] { parse_precision("fp16", kCpu); }).find("train.precision: fp16 needs a CUDA device"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { parse_precision("half", kCpu); }).find("'half' is not a precision"), std::string::npos);
  EXPECT_EQ(parse_precision("fp16", c10::Device(c10::kCUDA, 0)), Precision::FP16);
}

TEST(Precision, AutocastScopeRunsMatrixProductsInBf16AndRestoresFp32) {
  torch::nn::Linear layer(8, 4);
  auto x = torch::randn({3, 8});
  {
    AutocastScope autocast(kCpu, Precision::BF16);
    EXPECT_TRUE(autocast_enabled(c10::DeviceType::CPU));
    EXPECT_EQ(layer(x).scalar_type(), torch::kBFloat16);
    {
      Fp32Scope fp32;
      EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
      EXPECT_EQ(layer(x).scalar_type(), torch::kFloat);
    }
    EXPECT_TRUE(autocast_enabled(c10::DeviceType::CPU)) << "Fp32Scope must give autocast back";
  }
  EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  EXPECT_EQ(layer(x).scalar_type(), torch::kFloat);
  {
    AutocastScope none(kCpu, Precision::FP32);
    EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  }
}

TEST(Precision, AutocastSeesTheOptimizersUpdateOfTheWeights) {
  // autocast caches low-precision copies of weights; a stale copy after an in-place update would
  // make the next step compute with the old weights.
  torch::nn::Linear layer(4, 1);
  auto x = torch::ones({1, 4});
  torch::Tensor before, after;
  {
    AutocastScope autocast(kCpu, Precision::BF16);
    before = layer(x).to(torch::kFloat);
  }
  {
    torch::NoGradGuard no_grad;
    layer->weight.add_(1.0);
  }
  {
    AutocastScope autocast(kCpu, Precision::BF16);
    after = layer(x).to(torch::kFloat);
  }
  EXPECT_NEAR((after - before).item<double>(), 4.0, 0.1);
}

}  // namespace
}  // namespace crmt
