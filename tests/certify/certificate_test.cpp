#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crmt/certify/certificate.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/config.h"
#include "crmt/core/error.h"
#include "crmt/data/synthetic.h"
#include "crmt/models/mlp.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/orthogonal_head.h"
#include "test_util.h"

namespace crmt {
namespace {

constexpr int64_t kClasses = 4;

struct LinearModel {
  MultiModalDataset data;
  MultiModalNet net{nullptr};
  std::vector<torch::Tensor> U, b;  // phi(m) = U(m) x + b(m), float64
};

LinearModel linear_model(const std::string& head, uint64_t seed) {
  torch::manual_seed(seed);
  LinearModel lm;
  SyntheticOptions o;
  o.samples = 60;
  o.classes = kClasses;
  o.dims = {7, 5};
  o.seed = seed;
  lm.data = make_synthetic(o);
  auto config = Config::load("", {"model.encoder=linear", "model.head=" + head, "model.embed_dim=6"});
  lm.net = build_model(config, lm.data.specs, kClasses);
  lm.net->eval();
  if (head != "concat") {
    // Distinct, partly negative class weights a(m): the bound must use |a|.
    auto& oh = dynamic_cast<OrthogonalHeadImpl&>(lm.net->head());
    torch::NoGradGuard g;
    oh.class_weights(0).copy_(torch::tensor({0.7, -0.3, 1.2, 0.4}));
    oh.class_weights(1).copy_(torch::tensor({0.2, 0.9, -0.5, 1.1}));
  }
  for (size_t m = 0; m < 2; ++m) {
    auto& mlp = dynamic_cast<MlpImpl&>(lm.net->encoder(m));
    for (const auto& module : mlp.body->children())
      if (auto lin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) {
        lm.U.push_back(lin->weight.detach().to(torch::kDouble));
        lm.b.push_back(lin->bias.detach().to(torch::kDouble));
      }
  }
  return lm;
}

// The fused model is affine: h(x) = sum_m C(m) (U(m) x(m) + b(m)) + bias. The exact l2 distance from
// x to the decision boundary of (p, j) is (h_p - h_j) / ||g_pj|| with g_pj the concatenation over m
// of (C_p(m) - C_j(m)) U(m); the distance to the nearest boundary is the minimum over j.
struct Exact {
  torch::Tensor logits;              // [N, K] float64
  std::vector<torch::Tensor> grads;  // g[p][j] flattened, computed lazily below
};

double gradient_norm(LinearModel& lm, int64_t p, int64_t j) {
  double sq = 0;
  for (size_t m = 0; m < 2; ++m) {
    auto C = lm.net->head().modality_weight(m).detach().to(torch::kDouble);
    sq += torch::matmul(C[p] - C[j], lm.U[m]).pow(2).sum().item<double>();
  }
  return std::sqrt(sq);
}

torch::Tensor exact_logits(LinearModel& lm) {
  auto h = lm.net->head().bias().detach().to(torch::kDouble).unsqueeze(0);
  for (size_t m = 0; m < 2; ++m) {
    auto C = lm.net->head().modality_weight(m).detach().to(torch::kDouble);
    auto x = lm.data.all().inputs[m].to(torch::kDouble).flatten(1);
    h = h + torch::matmul(torch::matmul(x, lm.U[m].t()) + lm.b[m], C.t());
  }
  return h;
}

TEST(CertificateLinear, Theorem33EqualsExactDistanceForConcatHead) {
  for (const std::string kind : {"guaranteed", "empirical"}) {
    auto lm = linear_model("concat", 11);
    auto lip = estimate_lipschitz(lm.net, lm.data, kind, 20);
    auto cert = certify(lm.net, lm.data, lip, {0.0, 0.5});
    ASSERT_EQ(cert.samples.size(), 60u);
    auto h = exact_logits(lm);
    auto model_logits = lm.net->forward(lm.data.all()).logits.detach().to(torch::kDouble);
    ASSERT_TRUE(torch::allclose(h, model_logits, 1e-4, 1e-4)) << "closed-form logits disagree with the model";
    int checked = 0;
    for (int64_t i = 0; i < 60; ++i) {
      const auto& s = cert.samples[i];
      const int64_t p = s.prediction;
      double exact = std::numeric_limits<double>::infinity();
      int64_t nearest = -1;
      for (int64_t j = 0; j < kClasses; ++j) {
        if (j == p) continue;
        // The model's own logit difference (as certify sees it), over the exact gradient norm.
        const double d = (model_logits[i][p] - model_logits[i][j]).item<double>() / gradient_norm(lm, p, j);
        if (d < exact) exact = d, nearest = j;
        ASSERT_GE(h[i][p].item<double>() - h[i][j].item<double>(), -1e-5);
      }
      EXPECT_NEAR(s.radius, exact, 1e-5 * std::max(1.0, exact)) << kind << " sample " << i;
      EXPECT_EQ(s.nearest_class, nearest);
      // Exactness: stepping just past the radius towards the nearest boundary flips the prediction.
      std::vector<torch::Tensor> x;
      auto grad_dir = std::vector<torch::Tensor>{};
      double gn = gradient_norm(lm, p, nearest);
      for (size_t m = 0; m < 2; ++m) {
        auto C = lm.net->head().modality_weight(m).detach().to(torch::kDouble);
        auto g = torch::matmul(C[p] - C[nearest], lm.U[m]) / gn;
        auto xm = lm.data.all().inputs[m][i].to(torch::kDouble).flatten() - 1.001 * s.radius * g;
        x.push_back(xm.to(torch::kFloat).view(lm.data.all().inputs[m][i].sizes()).unsqueeze(0));
      }
      auto flipped = lm.net->forward(x).logits.argmax(1).item<int64_t>();
      EXPECT_NE(flipped, p) << "sample " << i << " radius " << s.radius;
      ++checked;
    }
    EXPECT_EQ(checked, 60);
  }
}

TEST(CertificateLinear, Theorem35NeverExceedsExactDistanceForOrthogonalHead) {
  for (const std::string head : {"orthogonal", "orthogonal_official"}) {
    auto lm = linear_model(head, 5);
    auto lip = guaranteed_lipschitz(lm.net);
    auto cert = certify(lm.net, lm.data, lip);
    auto& oh = dynamic_cast<OrthogonalHeadImpl&>(lm.net->head());
    // eta is the Theorem 3.5 denominator term |a_y| tau_y + |a_j| tau_j.
    for (size_t m = 0; m < 2; ++m) {
      auto a = oh.class_weights(m).detach().to(torch::kDouble);
      for (int64_t y = 0; y < kClasses; ++y)
        for (int64_t j = 0; j < kClasses; ++j) {
          const double expected = y == j ? 0.0
                                         : std::abs(a[y].item<double>()) * lip.tau_at(m, y) +
                                               std::abs(a[j].item<double>()) * lip.tau_at(m, j);
          EXPECT_NEAR(cert.eta[m][y][j].item<double>(), expected, 1e-12);
        }
    }
    auto logits = lm.net->forward(lm.data.all()).logits.detach().to(torch::kDouble);
    int positive = 0;
    for (int64_t i = 0; i < 60; ++i) {
      const auto& s = cert.samples[i];
      double exact = std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < kClasses; ++j)
        if (j != s.prediction)
          exact = std::min(exact, (logits[i][s.prediction] - logits[i][j]).item<double>() /
                                      gradient_norm(lm, s.prediction, j));
      EXPECT_LE(s.radius, exact * (1 + 1e-6) + 1e-9) << head << " sample " << i;
      EXPECT_LE(s.radius, s.runner_up_radius * (1 + 1e-12));
      for (double u : s.unimodal_radius) EXPECT_GE(u, s.radius * (1 - 1e-12));
      positive += s.radius > 0;
    }
    EXPECT_GT(positive, 50);
  }
}

TEST(CertifiedAccuracy, NonIncreasingInRadiusAndCleanAtZero) {
  auto cfg = test::synthetic_config(test::temp_dir("acc"), 2, 3);
  cfg.set("data.synthetic.samples", "300");
  cfg.set("data.synthetic.test_samples", "150");
  DataSplits data;
  auto net = test::train_synthetic(cfg, &data);
  auto lip = empirical_lipschitz(net, data.train, 100);
  std::vector<double> radii;
  for (int i = 0; i <= 20; ++i) radii.push_back(0.05 * i);
  auto cert = certify(net, data.test, lip, radii, 64);
  ASSERT_EQ(cert.certified_accuracy.size(), radii.size());
  auto logits = net->forward(data.test.all()).logits;
  const double clean = logits.argmax(1).eq(data.test.labels).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(clean, 0.5);
  EXPECT_DOUBLE_EQ(cert.certified_accuracy[0], clean);
  EXPECT_DOUBLE_EQ(cert.clean_accuracy, clean);
  for (size_t i = 1; i < radii.size(); ++i) EXPECT_LE(cert.certified_accuracy[i], cert.certified_accuracy[i - 1]);
  EXPECT_LT(cert.certified_accuracy.back(), clean) << "radius 1 should not certify everything";
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_DOUBLE_EQ(cert.unimodal_certified[m][0], clean);
    for (size_t i = 1; i < radii.size(); ++i) {
      EXPECT_LE(cert.unimodal_certified[m][i], cert.unimodal_certified[m][i - 1]);
      // A uni-modal perturbation is a special joint one: at least as many samples are safe.
      EXPECT_GE(cert.unimodal_certified[m][i], cert.certified_accuracy[i]);
    }
  }
  // The preferred modality is the one with the larger mean eta.
  EXPECT_GE(cert.mean_eta[cert.preferred_modality], cert.mean_eta[1 - cert.preferred_modality]);
  EXPECT_NEAR(cert.eta_ratio(1, 0) * cert.mean_eta[0], cert.mean_eta[1], 1e-9);

  auto j = certificate_json(cert, true);
  auto parsed = nlohmann::json::parse(j.dump());
  EXPECT_EQ(parsed["lipschitz"]["kind"], "empirical");
  EXPECT_EQ(parsed["certified_accuracy"].size(), radii.size());
  EXPECT_EQ(parsed["per_sample"].size(), 150u);
  EXPECT_EQ(parsed["eta"].size(), 2u);
  auto text = certificate_report(cert);
  EXPECT_NE(text.find("empirical"), std::string::npos) << text;
  EXPECT_NE(text.find("preferred"), std::string::npos) << text;
  auto csv = per_sample_table(cert).to_csv();
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 151) << csv.substr(0, 300);
}

TEST(CertificateEdgeCases, ZeroEtaGivesInfiniteRadius) {
  auto lm = linear_model("concat", 2);
  auto lip = guaranteed_lipschitz(lm.net);
  lip.pairwise.zero_();
  lip.tau.zero_();
  auto cert = certify(lm.net, lm.data, lip, {0.0, 1e6});
  for (const auto& s : cert.samples) {
    EXPECT_TRUE(std::isinf(s.radius));
    EXPECT_TRUE(std::isinf(s.unimodal_radius[0]));
  }
  EXPECT_DOUBLE_EQ(cert.certified_accuracy[1], cert.clean_accuracy);
  auto j = certificate_json(cert);
  EXPECT_EQ(nlohmann::json::parse(j.dump())["mean_radius"], "inf");
}

TEST(CertificateEta, IsTheHeadsVulnerabilityForEveryModality) {
  for (const std::string head : {"concat", "orthogonal", "orthogonal_official"}) {
    auto lm = linear_model(head, 7);
    auto lip = guaranteed_lipschitz(lm.net);
    auto eta = vulnerability_indicators(lm.net, lip);
    ASSERT_EQ(eta.sizes(), (std::vector<int64_t>{2, kClasses, kClasses})) << head;
    EXPECT_EQ(eta.scalar_type(), torch::kDouble);
    EXPECT_FALSE(eta.requires_grad());
    for (int64_t m = 0; m < 2; ++m)
      EXPECT_TRUE(torch::equal(eta[m], lm.net->head().vulnerability(static_cast<size_t>(m), lip.tau[m], lip.pairwise[m])))
          << head << " modality " << m;
    // Theorem 3.3: for a concatenation head eta is the pairwise constant (zero diagonal).
    if (head == "concat") {
      EXPECT_TRUE(torch::equal(eta, lip.pairwise));
    }
  }
}

TEST(CertificateEdgeCases, NonFiniteLipschitzConstantsOrLogitsAreRefused) {
  auto lm = linear_model("concat", 4);
  auto lip = guaranteed_lipschitz(lm.net);
  auto bad = lip;
  bad.pairwise = lip.pairwise.clone();  // the copy shares its tensors
  bad.pairwise[1][0][1] = std::numeric_limits<double>::quiet_NaN();
  auto msg = test::error_of([&] { certify(lm.net, lm.data, bad, {0.1}); });
  EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;
  EXPECT_NE(msg.find(lm.net->specs()[1].name), std::string::npos) << msg;
  {
    torch::NoGradGuard no_grad;
    lm.net->parameters()[0].view(-1)[0] = std::numeric_limits<float>::infinity();
  }
  msg = test::error_of([&] { certify(lm.net, lm.data, lip, {0.1}); });
  EXPECT_NE(msg.find("logits are not finite"), std::string::npos) << msg;
}

TEST(CertificateEta, MismatchedLipschitzShapesAreErrors) {
  auto lm = linear_model("concat", 3);
  auto lip = guaranteed_lipschitz(lm.net);
  auto bad = lip;
  bad.pairwise = torch::zeros({2, kClasses - 1, kClasses - 1}, torch::kDouble);
  EXPECT_NE(test::error_of([&] { vulnerability_indicators(lm.net, bad); }).find("pairwise"), std::string::npos);
  bad = lip;
  bad.tau = torch::zeros({3, kClasses}, torch::kDouble);
  EXPECT_THROW(vulnerability_indicators(lm.net, bad), Error);
}

}  // namespace
}  // namespace crmt
