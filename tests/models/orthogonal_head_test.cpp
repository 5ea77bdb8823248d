#include "crmt/models/orthogonal_head.h"

#include <gtest/gtest.h>

#include "crmt/core/error.h"

namespace crmt {
namespace {

TEST(OrthogonalHead, RowsStayOrthonormalThroughTraining) {
  torch::manual_seed(1);
  OrthogonalHeadImpl head({12, 20}, 5, 0.1, false);
  torch::optim::SGD opt(head.parameters(), torch::optim::SGDOptions(0.5).momentum(0.9));
  auto x1 = torch::randn({64, 12}), x2 = torch::randn({64, 20});
  auto y = torch::randint(0, 5, {64}, torch::kLong);
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    torch::nn::functional::cross_entropy(head.forward({x1, x2}).logits, y).backward();
    opt.step();
  }
  for (size_t m = 0; m < 2; ++m) {
    auto w = head.normalized_weight(m);
    EXPECT_TRUE(torch::allclose(torch::matmul(w, w.t()), torch::eye(5), 0, 1e-5)) << "modality " << m;
  }
}

TEST(OrthogonalHead, LogitsFollowEquation8) {
  OrthogonalHeadImpl head({8, 8}, 3, 0.3, false);
  torch::NoGradGuard no_grad;
  head.class_weights(1).copy_(torch::tensor({1.0, -2.0, 0.5}));
  auto x1 = torch::randn({4, 8}), x2 = torch::randn({4, 8});
  auto out = head.forward({x1, x2});
  auto expected = torch::matmul(x1, head.modality_weight(0).t()) + torch::matmul(x2, head.modality_weight(1).t()) + head.bias();
  EXPECT_TRUE(torch::allclose(out.logits, expected, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.unimodal_scores[1], torch::matmul(x2, head.normalized_weight(1).t()), 1e-5, 1e-6));
}

// d/dV sum(R * f(V)) by autograd against central differences, in float64.
void expect_gradient_matches_finite_differences(torch::Tensor (*f)(const torch::Tensor&)) {
  torch::manual_seed(3);
  auto v = torch::randn({4, 7}, torch::kDouble).requires_grad_(true);
  auto r = torch::randn({4, 7}, torch::kDouble);
  auto objective = [&](const torch::Tensor& x) { return (f(x) * r).sum(); };
  auto grad = torch::autograd::grad({objective(v)}, {v})[0];
  const double h = 1e-6;
  auto base = v.detach();
  for (int64_t i = 0; i < base.numel(); ++i) {
    auto plus = base.clone(), minus = base.clone();
    plus.view(-1)[i] += h;
    minus.view(-1)[i] -= h;
    double numeric = (objective(plus).item<double>() - objective(minus).item<double>()) / (2 * h);
    EXPECT_NEAR(grad.view(-1)[i].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "entry " << i;
  }
}

TEST(OrthogonalHead, OrthonormalizationGradientMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(&orthonormalize_rows);
}

TEST(OrthogonalHead, OfficialVariantIsUnitButNotOrthogonal) {
  torch::manual_seed(2);
  auto v = torch::randn({4, 9});
  auto w = centre_normalize_rows(v);
  EXPECT_TRUE(torch::allclose(w.norm(2, 1), torch::ones({4}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(w.sum(1), torch::zeros({4}), 0, 1e-5));
  auto gram = torch::matmul(w, w.t());
  EXPECT_GT((gram - torch::eye(4)).abs().max().item<double>(), 1e-2);
  expect_gradient_matches_finite_differences(&centre_normalize_rows);
}

TEST(OrthogonalHead, VulnerabilityIsTheorem35) {
  for (bool official : {false, true}) {
    OrthogonalHeadImpl head({8, 6}, 4, 0.3, official);
    {
      torch::NoGradGuard no_grad;
      head.class_weights(1).copy_(torch::tensor({0.7, -0.3, 1.2, -2.0}));
    }
    auto tau = torch::rand({4}, torch::kDouble) + 0.1;
    auto pairwise = torch::rand({4, 4}, torch::kDouble);  // not used by this head
    auto eta = head.vulnerability(1, tau, pairwise);
    ASSERT_EQ(eta.sizes(), (std::vector<int64_t>{4, 4}));
    EXPECT_EQ(eta.scalar_type(), torch::kDouble);
    EXPECT_FALSE(eta.requires_grad());
    auto a = head.class_weights(1).detach().to(torch::kDouble);
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t j = 0; j < 4; ++j) {
        // |a_y| tau_y + |a_j| tau_j, 0 on the diagonal.
        const double expected = y == j ? 0.0
                                       : std::abs(a[y].item<double>()) * tau[y].item<double>() +
                                             std::abs(a[j].item<double>()) * tau[j].item<double>();
        EXPECT_DOUBLE_EQ(eta[y][j].item<double>(), expected) << official << " " << y << " " << j;
      }
    // A float32 tau gives the same numbers as its float64 copy.
    EXPECT_TRUE(torch::equal(head.vulnerability(0, tau.to(torch::kFloat), {}),
                             head.vulnerability(0, tau.to(torch::kFloat).to(torch::kDouble), {})));
    EXPECT_THROW(head.vulnerability(0, torch::ones({3}, torch::kDouble), pairwise), Error);
    EXPECT_THROW(head.vulnerability(2, tau, pairwise), Error);
  }
}

}  // namespace
}  // namespace crmt
