#include "crmt/methods/gradient_blending.h"

#include <gtest/gtest.h>

#include "method_test_util.h"

namespace crmt {
namespace {

TEST(GradientBlending, EstimatorIsGeneralizationOverSquaredOverfittingNormalized) {
  // Three heads (two uni-modal, fused): losses before and after a super-epoch.
  auto tb = torch::tensor({1.0, 1.2, 0.9}, torch::kDouble), vb = torch::tensor({1.1, 1.3, 1.0}, torch::kDouble);
  auto ta = torch::tensor({0.6, 1.0, 0.3}, torch::kDouble), va = torch::tensor({0.9, 1.25, 0.8}, torch::kDouble);
  auto w = GradientBlending::blend_weights(tb, vb, ta, va);
  ASSERT_TRUE(w.defined());
  std::vector<double> raw;
  for (int k = 0; k < 3; ++k) {
    const double dg = vb[k].item<double>() - va[k].item<double>();
    const double d_o = (va[k].item<double>() - ta[k].item<double>()) - (vb[k].item<double>() - tb[k].item<double>());
    raw.push_back(dg / (d_o * d_o));
  }
  const double z = raw[0] + raw[1] + raw[2];
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(w[k].item<double>(), raw[k] / z, 1e-12);
  EXPECT_NEAR(w.sum().item<double>(), 1.0, 1e-12);
  // A head whose validation loss rose gets weight 0; when none improved there is no estimate.
  auto worse = torch::tensor({1.2, 1.25, 0.8}, torch::kDouble);
  EXPECT_EQ(GradientBlending::blend_weights(tb, vb, ta, worse)[0].item<double>(), 0.0);
  EXPECT_FALSE(GradientBlending::blend_weights(tb, vb, ta, vb + 0.1).defined());
}

TEST(GradientBlending, LossIsTheBlendOfUnimodalAndFusedLosses) {
  auto t = test::tiny("gb", "gb");
  auto method = build_method(t.config);
  auto& gb = dynamic_cast<GradientBlending&>(*method);
  gb.setup(t.net, t.data.train);
  ASSERT_EQ(gb.extra_parameters().size(), 4u);
  gb.set_weights(torch::tensor({0.2, 0.5, 0.3}, torch::kDouble));
  auto step = gb.loss(t.net, t.batch);
  namespace F = torch::nn::functional;
  auto out = t.net->forward(t.batch);
  const double expected = 0.2 * F::cross_entropy(gb.unimodal_head(0, out.embeddings[0]), t.batch.labels).item<double>() +
                          0.5 * F::cross_entropy(gb.unimodal_head(1, out.embeddings[1]), t.batch.labels).item<double>() +
                          0.3 * F::cross_entropy(out.logits, t.batch.labels).item<double>();
  EXPECT_NEAR(step.loss.item<double>(), expected, 1e-5);
  // The uni-modal heads receive gradients (they are trained with the model).
  step.loss.backward();
  for (auto& p : gb.extra_parameters()) EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
}

TEST(GradientBlending, EpochEndSetsTheWeightsEstimatedFromTheHeadsLosses) {
  auto t = test::tiny("gb", "gb_fit");
  auto method = build_method(t.config);
  auto& gb = dynamic_cast<GradientBlending&>(*method);
  gb.setup(t.net, t.data.train);
  auto params = t.net->parameters();
  for (auto& p : gb.extra_parameters()) params.push_back(p);
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.05).momentum(0.9));
  Trainer trainer(t.config, t.config.str("output.dir"), describe_architecture(t.net));
  trainer.set_data(t.data);
  Trainer::LossFn loss = [&](const Batch& b) { return gb.loss(t.net, b); };
  auto train_part = t.data.train.subset(torch::arange(std::min<int64_t>(1000, t.data.train.size()), torch::kLong));
  std::vector<torch::Tensor> train_loss, val_loss;
  for (int64_t e = 0; e < 3; ++e) {
    trainer.run_epoch(t.net, t.data.train, optimizer, loss, {}, 17 + e, "gb");
    train_loss.push_back(gb.head_losses(t.net, train_part, 500));
    val_loss.push_back(gb.head_losses(t.net, t.data.val, 500));
    auto w_before = gb.weights().clone();
    gb.epoch_end(t.net, trainer, e);
    if (e == 0) {
      EXPECT_TRUE(torch::equal(gb.weights(), w_before)) << "the first epoch only takes a snapshot";
      continue;
    }
    auto expected = GradientBlending::blend_weights(train_loss[e - 1], val_loss[e - 1], train_loss[e], val_loss[e]);
    if (expected.defined()) {
      EXPECT_TRUE(torch::allclose(gb.weights(), expected, 1e-9, 1e-12)) << gb.weights() << expected;
    } else {
      EXPECT_TRUE(torch::equal(gb.weights(), w_before));
    }
  }
  EXPECT_NEAR(gb.weights().sum().item<double>(), 1.0, 1e-9);
}

}  // namespace
}  // namespace crmt
