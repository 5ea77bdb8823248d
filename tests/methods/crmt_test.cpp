#include "crmt/methods/crmt.h"

#include <gtest/gtest.h>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/methods/crmt_losses.h"
#include "crmt/train/method_registry.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/orthogonal_head.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt {
namespace {

Config crmt_config(const std::string& method, const std::filesystem::path& dir) {
  auto cfg = test::synthetic_config(dir, 2, 3);
  cfg.set("train.method", method);
  cfg.set("model.head", "orthogonal");
  cfg.set("crmt.step2_epochs", "5");
  cfg.set("crmt.step2_lr_scale", "3");  // a large step-2 rate so that 5 epochs move a(m) visibly
  return cfg;
}

double mean_bound(MultiModalNet& net, const MultiModalDataset& data) {
  torch::NoGradGuard no_grad;
  auto& head = dynamic_cast<OrthogonalHeadImpl&>(net->head());
  auto tau = empirical_lipschitz(net, data).tau.to(torch::kFloat);
  auto out = net->forward(data.all());
  auto j = runner_up(out.logits, data.labels);
  return orthogonal_certified_bound(out.unimodal_scores, head.class_weight_parameters(), head.bias(), tau, data.labels, j)
      .mean()
      .item<double>();
}

TEST(Crmt, Step2RaisesTheBoundAndOnlyMovesTheClassWeights) {
  auto cfg = crmt_config("ojt", test::temp_dir("step2"));
  auto data = load_data(cfg, false);
  auto net = test::train_on(cfg, data);  // trained with the orthogonal head, no step 2
  std::vector<torch::Tensor> frozen;
  auto& head = dynamic_cast<OrthogonalHeadImpl&>(net->head());
  for (auto& p : net->named_parameters())
    if (p.key().find(".a") == std::string::npos) frozen.push_back(p.value().clone());
  std::vector<torch::Tensor> a_before;
  for (auto& a : head.class_weight_parameters()) a_before.push_back(a.clone());
  net->eval();
  const double before = mean_bound(net, data.train);

  auto step2_cfg = crmt_config("crmt_step2", test::temp_dir("step2_run"));
  Crmt crmt(CrmtSettings::from_config(step2_cfg));
  Trainer trainer(step2_cfg, step2_cfg.str("output.dir"), describe_architecture(net));
  trainer.set_data(data);
  crmt.run_step2(net, trainer, "step 2", 5);
  net->eval();
  const double after = mean_bound(net, data.train);
  EXPECT_GT(after, before + 1e-3) << "step 2 must raise the mean certified bound on the training set";

  size_t i = 0;
  for (auto& p : net->named_parameters()) {
    if (p.key().find(".a") == std::string::npos) {
      EXPECT_TRUE(torch::equal(p.value(), frozen[i++])) << p.key();
    }
  }
  bool moved = false;
  for (size_t m = 0; m < a_before.size(); ++m) moved |= !torch::equal(a_before[m], head.class_weights(m));
  EXPECT_TRUE(moved);
}

TEST(Crmt, AblationNamesFixTheirSwitches) {
  auto dir = test::temp_dir("names");
  for (const std::string name : {"crmt_jt", "ojt", "crmt_step1", "crmt_step2"}) {
    auto cfg = crmt_config(name, dir);
    EXPECT_EQ(build_method(cfg)->name(), name);
  }
  // A concat head cannot run CRMT: the error names the method and the head.
  auto cfg = crmt_config("crmt_jt", dir);
  cfg.set("model.head", "concat");
  auto data = load_data(cfg, false);
  auto net = build_model(cfg, data.train.specs, data.train.num_classes());
  try {
    build_method(cfg)->setup(net, data.train);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("orthogonal"), std::string::npos) << e.what();
  }
}

TEST(Crmt, Step1RegularizerWidensTheUnimodalMargins) {
  // Same data and seed: CE alone (ojt) vs CE + rho L1 (crmt_step1). L1 rewards larger uni-modal
  // margins, so its mean over the training set must end lower.
  auto data_cfg = crmt_config("ojt", test::temp_dir("m1"));
  auto data = load_data(data_cfg, false);
  auto ojt = test::train_on(data_cfg, data);
  auto step1_cfg = crmt_config("crmt_step1", test::temp_dir("m2"));
  // train_on uses JT; run the method through the trainer instead.
  torch::manual_seed(0);
  auto net = build_model(step1_cfg, data.train.specs, data.train.num_classes());
  auto method = build_method(step1_cfg);
  Trainer(step1_cfg, step1_cfg.str("output.dir"), describe_architecture(net)).fit(net, *method, data, false);
  torch::NoGradGuard no_grad;
  ojt->eval();
  net->eval();
  auto all = data.train.all();
  const double l1_ojt = margin_regularizer(ojt->forward(all).unimodal_scores, all.labels).item<double>();
  const double l1_crmt = margin_regularizer(net->forward(all).unimodal_scores, all.labels).item<double>();
  EXPECT_LT(l1_crmt, l1_ojt - 0.5);
}

}  // namespace
}  // namespace crmt
