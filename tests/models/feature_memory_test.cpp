#include "crmt/models/feature_memory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "crmt/core/error.h"

namespace crmt {
namespace {

TEST(FeatureMemory, IstaRecoversASparseCodeShrunkByLambda) {
  // In an orthonormal dictionary the lasso solution is the soft-thresholded coordinates.
  auto d = torch::eye(6).slice(1, 0, 4);  // [6, 4]
  auto x = torch::zeros({2, 6});
  x[0][2] = 3.0;
  x[1][0] = -0.05;  // below lambda: coded as 0
  auto code = FeatureMemoryImpl::ista(d, x, 0.1, 200);
  EXPECT_NEAR(code[2][0].item<double>(), 2.9, 1e-4);
  EXPECT_NEAR(code.select(1, 0).abs().sum().item<double>(), 2.9, 1e-4);
  EXPECT_NEAR(code.select(1, 1).abs().sum().item<double>(), 0.0, 1e-9);
  // An all-zero memory codes everything as zero instead of dividing by its norm.
  auto zero = FeatureMemoryImpl::ista(torch::zeros({6, 4}), x, 0.1, 10);
  EXPECT_EQ(zero.abs().sum().item<double>(), 0.0);
}

TEST(FeatureMemory, LipschitzBoundHoldsOnRandomPairs) {
  torch::manual_seed(3);
  FeatureMemoryImpl memory({8}, 16, 0.6, 0.05, 20);
  auto atoms = torch::randn({8, 16});
  memory.set_memory(0, atoms / atoms.norm(2, 0, true));
  auto x = torch::randn({200, 8}), y = x + 0.3 * torch::randn({200, 8});
  auto ratio = (memory.forward(0, x) - memory.forward(0, y)).norm(2, 1) / (x - y).norm(2, 1);
  EXPECT_LE(ratio.max().item<double>(), memory.lipschitz_bound());
  EXPECT_DOUBLE_EQ(memory.lipschitz_bound(), 0.6 * 20 + 0.4);
  // The filter is a real change of the features, not the identity.
  EXPECT_GT((memory.forward(0, x) - x).abs().max().item<double>(), 1e-3);
}

TEST(FeatureMemory, RejectsBadSettingsAndShapes) {
  EXPECT_THROW(FeatureMemoryImpl({8}, 0, 0.6, 0.1, 10), Error);
  EXPECT_THROW(FeatureMemoryImpl({8}, 4, 1.5, 0.1, 10), Error);
  EXPECT_THROW(FeatureMemoryImpl({8}, 4, 0.6, -1, 10), Error);
  EXPECT_THROW(FeatureMemoryImpl({8}, 4, 0.6, 0.1, 0), Error);
  FeatureMemoryImpl memory({8, 4}, 4, 0.6, 0.1, 10);
  EXPECT_THROW(memory.set_memory(1, torch::zeros({8, 4})), Error);
  EXPECT_THROW(memory.set_memory(2, torch::zeros({4, 4})), std::out_of_range);
}

}  // namespace
}  // namespace crmt
