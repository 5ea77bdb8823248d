#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crmt/certify/audit.h"
#include "crmt/certify/certificate.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/config.h"
#include "crmt/data/synthetic.h"
#include "crmt/models/model_factory.h"
#include "test_util.h"

namespace crmt {
namespace {

TEST(AuditGuaranteed, SmallCnnHasNoViolations) {
  auto cfg = test::small_cnn_config(test::temp_dir("cnn"));
  DataSplits data{test::image_data(96, 3, 1, 0.7), test::image_data(24, 3, 2, 0.7), test::image_data(24, 3, 3, 0.7)};
  auto net = test::train_on(cfg, data);
  auto lip = guaranteed_lipschitz(net);
  auto cert = certify(net, data.test, lip);
  EXPECT_GT(cert.clean_accuracy, 0.5);
  AuditOptions opt;
  opt.steps = 10;
  opt.gradient_check_every = 3;
  auto audit = audit_certificate(net, data.test, cert, opt);
  EXPECT_GT(audit.attacked, 10);
  EXPECT_EQ(audit.violations, 0);
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_GT(audit.max_tau_ratio[m], 0.0);
    EXPECT_LE(audit.max_tau_ratio[m], 1.0 + 1e-5);
    EXPECT_LE(audit.max_pairwise_ratio[m], 1.0 + 1e-5);
  }
  // A budget beyond the radius may or may not flip; flips there are not violations.
  opt.budget_scale = 1.5;
  opt.gradient_check_every = 0;
  auto beyond = audit_certificate(net, data.test, cert, opt);
  EXPECT_EQ(beyond.attacked, audit.attacked);
  EXPECT_EQ(beyond.violations, 0);
  for (double r : beyond.flip_ratios) EXPECT_GE(r, 1.0);
}

TEST(AuditGuaranteed, MlpHasNoViolationsAndEmpiricalRatiosAreReported) {
  auto cfg = test::synthetic_config(test::temp_dir("mlp"), 2, 3);
  cfg.set("data.synthetic.samples", "300");
  cfg.set("data.synthetic.test_samples", "60");
  DataSplits data;
  auto net = test::train_synthetic(cfg, &data);
  auto cert = certify(net, data.test, guaranteed_lipschitz(net));
  auto audit = audit_certificate(net, data.test, cert);
  EXPECT_GT(audit.attacked, 20);
  EXPECT_EQ(audit.violations, 0);
  EXPECT_LE(audit.max_tau_ratio[0], 1.0 + 1e-5);

  auto emp = certify(net, data.test, empirical_lipschitz(net, data.train, 50));
  auto emp_audit = audit_certificate(net, data.test, emp);
  EXPECT_EQ(emp_audit.lipschitz_kind, "empirical");
  EXPECT_GT(emp_audit.max_tau_ratio[1], 0.5);  // gradients along the attack are of the estimate's size
  auto j = nlohmann::json::parse(audit_json(emp_audit).dump());
  EXPECT_TRUE(j.contains("violations"));
  EXPECT_NE(audit_report(emp_audit).find("violations"), std::string::npos);
}

// A linear model whose Lipschitz constants are understated 10x: its radii are 10x too large.
struct Overstated {
  MultiModalDataset data;
  MultiModalNet net{nullptr};
  Certificate cert;
};

Overstated overstated_linear_certificate() {
  torch::manual_seed(4);
  SyntheticOptions o;
  o.samples = 40;
  o.classes = 3;
  o.dims = {6, 4};
  Overstated out{make_synthetic(o)};
  out.net = build_model(Config::load("", {"model.encoder=linear", "model.head=concat", "model.embed_dim=5"}),
                        out.data.specs, 3);
  out.net->eval();
  auto lip = guaranteed_lipschitz(out.net);
  lip.kind = "empirical";
  lip.tau = lip.tau * 0.1;
  lip.pairwise = lip.pairwise * 0.1;
  out.cert = certify(out.net, out.data, lip);
  return out;
}

TEST(AuditDetects, OptimisticLipschitzEstimate) {
  auto [data, net, cert] = overstated_linear_certificate();
  auto audit = audit_certificate(net, data, cert);
  EXPECT_GT(audit.attacked, 30);
  EXPECT_GT(audit.violation_share, 0.9);
  // The true distance is a tenth of the stated radius: the smallest flip found is close to it and
  // never below it.
  EXPECT_LT(audit.min_flip_ratio, 0.12);
  EXPECT_GE(audit.min_flip_ratio, 0.1 * (1 - 1e-3));
  EXPECT_NEAR(audit.max_tau_ratio[0], 10.0, 1e-3);
  EXPECT_NEAR(audit.max_pairwise_ratio[1], 10.0, 1e-3);
}

// One short step from the clean input covers a hundredth of the radius, too little to reach the
// boundary at a tenth of it; random starts anywhere in the ball reach past it.
TEST(AuditDetects, RandomRestartsReachWhatTheCleanStartMisses) {
  auto o = overstated_linear_certificate();
  AuditOptions opt;
  opt.steps = 1;
  opt.step_fraction = 0.01;
  opt.gradient_check_every = 0;
  const auto one = audit_certificate(o.net, o.data, o.cert, opt);
  EXPECT_GT(one.attacked, 30);
  EXPECT_EQ(one.flipped, 0);
  opt.restarts = 5;
  const auto five = audit_certificate(o.net, o.data, o.cert, opt);
  EXPECT_EQ(five.restarts, 5);
  EXPECT_GT(five.violations, 5);
  EXPECT_NE(audit_report(five).find("1 steps x 5 start(s)"), std::string::npos) << audit_report(five);
  opt.restarts = 0;
  EXPECT_NE(test::error_of([&] { audit_certificate(o.net, o.data, o.cert, opt); }).find("restarts"), std::string::npos);
}

}  // namespace
}  // namespace crmt
