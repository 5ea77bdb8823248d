#include "crmt/methods/crmt_mix.h"

#include <gtest/gtest.h>

#include "crmt/methods/crmt_losses.h"
#include "crmt/methods/method_helpers.h"
#include "method_test_util.h"

namespace crmt {
namespace {

// Direct float64 evaluation of log( sum_m sum_{k not in {ya, yb}} exp(s_k - (l s_ya + (1 - l) s_yb)) + floor ).
double direct(const std::vector<torch::Tensor>& s, int64_t i, int64_t ya, int64_t yb, double l, double floor) {
  double sum = floor;
  for (auto& sm : s) {
    auto row = sm[i].to(torch::kDouble);
    const double target = l * row[ya].item<double>() + (1 - l) * row[yb].item<double>();
    for (int64_t k = 0; k < row.size(0); ++k)
      if (k != ya && k != yb) sum += std::exp(row[k].item<double>() - target);
  }
  return std::log(sum);
}

TEST(CrmtMix, TwoTargetMarginMatchesADirectEvaluation) {
  torch::manual_seed(0);
  std::vector<torch::Tensor> s = {torch::randn({6, 5}) * 3, torch::randn({6, 5}) * 3};
  auto ya = torch::tensor({0, 1, 2, 3, 4, 2}, torch::kLong), yb = torch::tensor({1, 1, 4, 0, 2, 2}, torch::kLong);
  for (double floor : {0.0, 1e-5}) {
    auto got = mixup_margin_regularizer_per_sample(s, ya, yb, 0.3, floor);
    for (int64_t i = 0; i < 6; ++i)
      EXPECT_NEAR(got[i].item<double>(), direct(s, i, ya[i].item<int64_t>(), yb[i].item<int64_t>(), 0.3, floor), 1e-4);
  }
  // With y_a = y_b it is L1 of CRMT-JT.
  auto same = mixup_margin_regularizer_per_sample(s, ya, ya, 0.3, 1e-5);
  EXPECT_TRUE(torch::allclose(same, margin_regularizer_per_sample(s, ya, 1e-5), 1e-5, 1e-6));
}

TEST(CrmtMix, TwoTargetMarginIsFiniteForHugeLogits) {
  std::vector<torch::Tensor> s = {torch::tensor({{1e4f, -1e4f, 3e4f, 0.f}}), torch::tensor({{-5e4f, 2e4f, 1e4f, 8e4f}})};
  auto ya = torch::tensor({0}, torch::kLong), yb = torch::tensor({1}, torch::kLong);
  for (auto& x : s) x.requires_grad_(true);
  auto v = mixup_margin_regularizer_per_sample(s, ya, yb, 0.25, 1e-5);
  ASSERT_TRUE(std::isfinite(v.item<double>()));
  // Largest exponent: modality 1, class 3: 8e4 - (0.25 (-5e4) + 0.75 (2e4)) = 7.75e4.
  EXPECT_NEAR(v.item<double>(), 7.75e4, 1.0);
  v.sum().backward();
  for (auto& x : s) EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  // Two classes, two different targets and no floor: no competitor, the term is 0 and finite.
  std::vector<torch::Tensor> two = {torch::randn({1, 2}, torch::requires_grad())};
  auto z = mixup_margin_regularizer_per_sample(two, ya, yb, 0.5, 0.0);
  EXPECT_EQ(z.item<double>(), 0.0);
  z.sum().backward();
  EXPECT_TRUE(torch::isfinite(two[0].grad()).all().item<bool>());
}

TEST(CrmtMix, Step1LossIsMixupCePlusRhoTimesTheMargin) {
  auto t = test::tiny("crmt_mix", "crmt_mix", {"model.head=orthogonal"});
  auto method = build_method(t.config);
  auto& mix = dynamic_cast<CrmtMix&>(*method);
  mix.setup(t.net, t.data.train);
  torch::manual_seed(5);
  auto step = mix.loss(t.net, t.batch);
  const double l = mix.last_lambda();
  auto mixed = mix_batch(t.batch, l, mix.last_permutation());
  auto out = t.net->forward(mixed.batch);
  auto expected = mixup_cross_entropy(out.logits, mixed.labels_a, mixed.labels_b, l) +
                  2.0 * mixup_margin_regularizer_per_sample(out.unimodal_scores, mixed.labels_a, mixed.labels_b, l, 1e-5).mean();
  EXPECT_NEAR(step.loss.item<double>(), expected.item<double>(), 1e-5);
}

}  // namespace
}  // namespace crmt
