#include "crmt/methods/adversarial_training.h"

#include <gtest/gtest.h>

#include "crmt/attacks/perturbation.h"
#include "method_test_util.h"

namespace crmt {
namespace {

TEST(Mmat, TrainsOnPerturbationsInsideTheJointBudget) {
  auto t = test::tiny("mmat", "mmat", {"adversarial.eps=0.5"});
  auto method = build_method(t.config);
  auto& mmat = dynamic_cast<AdversarialTraining&>(*method);
  auto step = mmat.loss(t.net, t.batch);
  const auto& adv = mmat.last_adversarial();
  std::vector<torch::Tensor> deltas;
  for (size_t m = 0; m < adv.inputs.size(); ++m) deltas.push_back(adv.inputs[m] - t.batch.inputs[m]);
  auto norms = joint_norm(deltas);
  EXPECT_LE(norms.max().item<double>(), 0.5 + 1e-5);
  EXPECT_GT(norms.mean().item<double>(), 0.25) << "PGD should use most of the budget";
  // The loss is the CE on the adversarial batch, which is higher than on the clean one.
  torch::NoGradGuard no_grad;
  t.net->train();
  auto adv_ce = torch::nn::functional::cross_entropy(t.net->forward(adv).logits, t.batch.labels).item<double>();
  auto clean_ce = torch::nn::functional::cross_entropy(t.net->forward(t.batch).logits, t.batch.labels).item<double>();
  EXPECT_NEAR(step.loss.item<double>(), adv_ce, 1e-5);
  EXPECT_GT(adv_ce, clean_ce);
}

}  // namespace
}  // namespace crmt
