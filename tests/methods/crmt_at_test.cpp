#include "crmt/methods/crmt_at.h"

#include <gtest/gtest.h>

#include "crmt/methods/crmt_losses.h"
#include "method_test_util.h"

namespace crmt {
namespace {

TEST(CrmtAt, PerturbationStaysInTheBoxAndStep1SeesIt) {
  auto t = test::tiny("crmt_at", "crmt_at", {"model.head=orthogonal", "adversarial.eps=0.1"});
  auto method = build_method(t.config);
  auto& at = dynamic_cast<CrmtAt&>(*method);
  EXPECT_EQ(at.name(), "crmt_at");
  at.setup(t.net, t.data.train);
  t.net->train();
  auto step = at.loss(t.net, t.batch);
  const auto& adv = at.last_adversarial();
  double largest = 0;
  for (size_t m = 0; m < 2; ++m) {
    auto delta = adv.inputs[m] - t.batch.inputs[m];
    largest = std::max(largest, delta.abs().max().item<double>());
    EXPECT_LE(delta.abs().max().item<double>(), 0.2 + 1e-6) << "element-wise box [-2 eps, 2 eps]";
  }
  // 5 normalized steps of eps/5 move each sample by at most eps in l2, and the box is active only
  // element-wise: with a 16-dim input every coordinate stays far inside it.
  EXPECT_GT(largest, 0.0);
  // A large step makes the box bind: the perturbation saturates at exactly 2 eps somewhere.
  auto big = CrmtAt::perturb(t.net, t.batch, 0.1, 5, 5.0);
  double sat = 0;
  for (size_t m = 0; m < 2; ++m) sat = std::max(sat, (big.inputs[m] - t.batch.inputs[m]).abs().max().item<double>());
  EXPECT_NEAR(sat, 0.2, 1e-6);
  // Step 1's loss on the adversarial batch: CE + rho L1 (rho 2, floor 1e-5).
  t.net->train();
  auto out = t.net->forward(adv);
  auto expected = torch::nn::functional::cross_entropy(out.logits, t.batch.labels) +
                  2.0 * margin_regularizer(out.unimodal_scores, t.batch.labels, 1e-5);
  EXPECT_NEAR(step.loss.item<double>(), expected.item<double>(), 1e-5);
}

}  // namespace
}  // namespace crmt
