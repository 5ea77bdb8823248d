#include "crmt/methods/mixup.h"

#include <gtest/gtest.h>

#include "crmt/methods/method_helpers.h"
#include "method_test_util.h"

namespace crmt {
namespace {

TEST(Mixup, LossMixesTheTwoTargetsInTheDrawnProportion) {
  auto t = test::tiny("mixup", "mix");
  Mixup mixup(1.0);
  torch::manual_seed(3);
  auto step = mixup.loss(t.net, t.batch);
  const double lambda = mixup.last_lambda();
  ASSERT_GT(lambda, 0.0);
  ASSERT_LT(lambda, 1.0);
  const auto& perm = mixup.last_permutation();
  // Independent evaluation: mix every modality by hand with the drawn lambda and permutation.
  std::vector<torch::Tensor> inputs;
  for (auto& x : t.batch.inputs) inputs.push_back(lambda * x + (1 - lambda) * x.index_select(0, perm));
  auto logits = t.net->forward(inputs).logits;
  auto ya = t.batch.labels, yb = t.batch.labels.index_select(0, perm);
  auto expected = lambda * torch::nn::functional::cross_entropy(logits, ya) +
                  (1 - lambda) * torch::nn::functional::cross_entropy(logits, yb);
  EXPECT_NEAR(step.loss.item<double>(), expected.item<double>(), 1e-5);
  EXPECT_FALSE(torch::equal(perm, torch::arange(32, torch::kLong))) << "the batch must be permuted";
  // The loss differs from the unmixed CE (mixing actually happened).
  auto clean = torch::nn::functional::cross_entropy(t.net->forward(t.batch).logits, t.batch.labels);
  EXPECT_GT(std::abs(step.loss.item<double>() - clean.item<double>()), 1e-4);
}

TEST(Mixup, LambdaFollowsBetaOfAlpha) {
  torch::manual_seed(0);
  double sum = 0, sq = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const double l = sample_beta(1.0);  // Beta(1, 1) = uniform: mean 1/2, variance 1/12
    ASSERT_GE(l, 0.0);
    ASSERT_LE(l, 1.0);
    sum += l, sq += l * l;
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.02);
  EXPECT_NEAR(var, 1.0 / 12, 0.01);
  EXPECT_EQ(sample_beta(0.0), 1.0);
}

}  // namespace
}  // namespace crmt
