#include "crmt/methods/crmt_losses.h"

#include <gtest/gtest.h>

namespace crmt {
namespace {

// Eq. 12 evaluated literally in float64: log sum_m (sum_{k != y} exp(s_k)) / exp(s_y).
double direct_l1(const std::vector<torch::Tensor>& scores, const torch::Tensor& y, int64_t i) {
  double total = 0;
  for (const auto& s : scores) {
    auto row = s[i].to(torch::kDouble);
    const int64_t yi = y[i].item<int64_t>();
    double others = 0;
    for (int64_t k = 0; k < row.size(0); ++k)
      if (k != yi) others += std::exp(row[k].item<double>());
    total += others / std::exp(row[yi].item<double>());
  }
  return std::log(total);
}

TEST(CrmtLosses, MarginRegularizerMatchesTheDirectFormula) {
  torch::manual_seed(0);
  std::vector<torch::Tensor> scores = {torch::randn({6, 5}) * 3, torch::randn({6, 5}) * 3, torch::randn({6, 5})};
  auto y = torch::randint(0, 5, {6}, torch::kLong);
  auto per_sample = margin_regularizer_per_sample(scores, y);
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(per_sample[i].item<double>(), direct_l1(scores, y, i), 1e-5);
  EXPECT_NEAR(margin_regularizer(scores, y).item<double>(), per_sample.mean().item<double>(), 1e-6);
}

TEST(CrmtLosses, FloorMatchesTheOfficialCodesPlusEpsilon) {
  torch::manual_seed(1);
  std::vector<torch::Tensor> scores = {torch::randn({5, 4}) * 4, torch::randn({5, 4}) * 4};
  auto y = torch::randint(0, 4, {5}, torch::kLong);
  auto floored = margin_regularizer_per_sample(scores, y, 1e-5);
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_NEAR(floored[i].item<double>(), std::log(std::exp(direct_l1(scores, y, i)) + 1e-5), 1e-5);
  // Huge margins: the paper's form keeps falling, the floored one stops at log(1e-5).
  std::vector<torch::Tensor> confident = {torch::tensor({{100.0, 0.0}}), torch::tensor({{100.0, 0.0}})};
  auto y0 = torch::tensor({0}, torch::kLong);
  EXPECT_NEAR(margin_regularizer(confident, y0, 1e-5).item<double>(), std::log(1e-5), 1e-6);
  EXPECT_LT(margin_regularizer(confident, y0).item<double>(), -99);
}

TEST(CrmtLosses, MarginRegularizerIsFiniteForHugeScores) {
  auto s1 = torch::tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 5e3}}).requires_grad_(true);
  auto s2 = torch::tensor({{-1e4, 1e4, 1e4}, {1e4, 0.0, -1e4}}).requires_grad_(true);
  auto y = torch::tensor({0, 2}, torch::kLong);
  auto l = margin_regularizer({s1, s2}, y);
  EXPECT_TRUE(std::isfinite(l.item<double>()));
  // Sample 0: the largest gap is s2 (1e4 - (-1e4)) = 2e4, so L1 ~ 2e4 + log(2).
  EXPECT_NEAR(margin_regularizer_per_sample({s1, s2}, y)[0].item<double>(), 2e4 + std::log(2.0), 1e-1);
  l.backward();
  EXPECT_TRUE(torch::isfinite(s1.grad()).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(s2.grad()).all().item<bool>());
}

TEST(CrmtLosses, RunnerUpIgnoresTheTrueClass) {
  auto logits = torch::tensor({{5.0, 4.0, 1.0}, {0.0, 1.0, 3.0}});
  auto j = runner_up(logits, torch::tensor({0, 2}, torch::kLong));
  EXPECT_EQ(j[0].item<int64_t>(), 1);
  EXPECT_EQ(j[1].item<int64_t>(), 1);
}

TEST(CrmtLosses, OrthogonalBoundMatchesEquation10) {
  auto s1 = torch::tensor({{2.0, 1.0, 0.0}});
  auto s2 = torch::tensor({{0.5, 1.5, -1.0}});
  auto a1 = torch::tensor({1.0, 2.0, 1.0}), a2 = torch::tensor({3.0, -1.0, 1.0});
  auto bias = torch::tensor({0.1, -0.2, 0.0});
  auto tau = torch::tensor({{1.0, 2.0, 3.0}, {0.5, 0.25, 1.0}});
  auto y = torch::tensor({0}, torch::kLong), j = torch::tensor({1}, torch::kLong);
  double numerator = (1 * 2.0 - 2 * 1.0) + (3 * 0.5 - (-1) * 1.5) + (0.1 + 0.2);
  double denominator = std::sqrt(std::pow(1 * 1.0 + 2 * 2.0, 2) + std::pow(3 * 0.5 + 1 * 0.25, 2));
  EXPECT_NEAR(orthogonal_certified_bound({s1, s2}, {a1, a2}, bias, tau, y, j).item<double>(), numerator / denominator, 1e-6);
}

}  // namespace
}  // namespace crmt
