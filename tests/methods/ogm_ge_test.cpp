#include "crmt/methods/ogm_ge.h"

#include "crmt/core/error.h"

#include <gtest/gtest.h>

#include "method_test_util.h"

namespace crmt {
namespace {

// Scores recomputed independently: each modality's columns of the concat head plus half the bias.
std::vector<double> scores_by_hand(MultiModalNet& net, const Batch& batch) {
  torch::NoGradGuard no_grad;
  auto out = net->forward(batch);
  std::vector<double> s;
  for (size_t m = 0; m < 2; ++m) {
    auto logits = out.embeddings[m].matmul(net->head().modality_weight(m).t()) + net->head().bias() / 2;
    s.push_back(torch::softmax(logits, 1).gather(1, batch.labels.unsqueeze(1)).sum().item<double>());
  }
  return s;
}

TEST(OgmGe, ScalesTheDominantEncodersGradientsByTheCoefficient) {
  auto t = test::tiny("ogm_ge", "ogm", {"ogm_ge.ge=false", "ogm_ge.modulate=all", "ogm_ge.alpha=0.8"});
  // Make modality 0 dominant: train briefly with JT first.
  t.config.set("train.epochs", "2");
  t.net = test::train_on(t.config, t.data);
  t.net->train();
  OgmGe ogm(OgmGeSettings::from_config(t.config));
  ogm.setup(t.net, t.data.train);
  t.net->zero_grad();
  auto step = ogm.loss(t.net, t.batch);
  step.loss.backward();
  auto s = scores_by_hand(t.net, t.batch);
  ASSERT_NEAR(ogm.last_scores()[0], s[0], 1e-4);
  ASSERT_NEAR(ogm.last_scores()[1], s[1], 1e-4);
  const size_t dom = s[0] > s[1] ? 0 : 1, weak = 1 - dom;
  const double ratio = s[dom] / s[weak];
  ASSERT_GT(ratio, 1.0);
  const double k = 1 - std::tanh(0.8 * ratio);  // the official rule (paper Eq. 10)
  EXPECT_NEAR(ogm.last_coefficients()[dom], k, 1e-9);
  EXPECT_EQ(ogm.last_coefficients()[weak], 1.0);
  auto before_dom = test::grads_of(t.net->encoder_parameters(dom));
  auto before_weak = test::grads_of(t.net->encoder_parameters(weak));
  auto before_head = test::grads_of(t.net->head().parameters());
  ogm.before_step(t.net, t.batch, step);
  auto after_dom = test::grads_of(t.net->encoder_parameters(dom));
  auto after_weak = test::grads_of(t.net->encoder_parameters(weak));
  auto after_head = test::grads_of(t.net->head().parameters());
  for (size_t i = 0; i < before_dom.size(); ++i) EXPECT_TRUE(torch::allclose(after_dom[i], before_dom[i] * k, 1e-6, 1e-9));
  for (size_t i = 0; i < before_weak.size(); ++i) EXPECT_TRUE(torch::equal(after_weak[i], before_weak[i]));
  for (size_t i = 0; i < before_head.size(); ++i) EXPECT_TRUE(torch::equal(after_head[i], before_head[i]));

  // The first release's form: 1 - tanh(alpha (ratio - 1)).
  t.config.set("ogm_ge.coefficient", "offset");
  OgmGe offset(OgmGeSettings::from_config(t.config));
  EXPECT_NEAR(offset.coefficient(ratio), 1 - std::tanh(0.8 * (ratio - 1)), 1e-12);
  EXPECT_EQ(offset.coefficient(0.7), 1.0);

  // Outside the modulation epochs nothing changes.
  t.config.set("ogm_ge.modulation_end", "0");
  OgmGe late(OgmGeSettings::from_config(t.config));
  late.set_epoch(1);
  t.net->zero_grad();
  auto step2 = late.loss(t.net, t.batch);
  step2.loss.backward();
  auto g0 = test::grads_of(t.net->encoder_parameters(dom));
  late.before_step(t.net, t.batch, step2);
  auto g1 = test::grads_of(t.net->encoder_parameters(dom));
  for (size_t i = 0; i < g0.size(); ++i) EXPECT_TRUE(torch::equal(g0[i], g1[i]));
}

TEST(OgmGe, GeAddsNoiseWithTheGradientsOwnStd) {
  auto t = test::tiny("ogm_ge", "ogm_ge", {"ogm_ge.ge=true", "ogm_ge.modulate=weights"});
  OgmGe ogm(OgmGeSettings::from_config(t.config));
  ogm.setup(t.net, t.data.train);
  t.net->zero_grad();
  auto step = ogm.loss(t.net, t.batch);
  step.loss.backward();
  // Gradients of both modalities before the hook, which modulates (and noises) all of them at once.
  std::vector<std::vector<torch::Tensor>> befores;
  for (size_t m = 0; m < 2; ++m) befores.push_back(test::grads_of(ogm.modulated_parameters(t.net, m)));
  torch::manual_seed(11);
  ogm.before_step(t.net, t.batch, step);
  for (size_t m = 0; m < 2; ++m) {
    auto params = ogm.modulated_parameters(t.net, m);
    const auto& before = befores[m];
    auto after = test::grads_of(params);
    // Check the largest tensor: its noise = after - k * before must have std(before) as std.
    size_t big = 0;
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].numel() > params[big].numel()) big = i;
    ASSERT_GE(params[big].numel(), 256);
    auto noise = after[big] - ogm.last_coefficients()[m] * before[big];
    const double want = before[big].std().item<double>();
    ASSERT_GT(want, 0);
    EXPECT_NEAR(noise.std().item<double>() / want, 1.0, 0.12) << "modality " << m;
    EXPECT_NEAR(noise.mean().item<double>() / want, 0.0, 0.15);
  }
}

TEST(OgmGe, RefusesAnEncoderWithoutConvolutionsUnderModulateConv) {
  auto t = test::tiny("ogm_ge", "ogm_conv");  // MLP encoders, modulate: conv
  OgmGe ogm(OgmGeSettings::from_config(t.config));
  EXPECT_THROW(ogm.setup(t.net, t.data.train), Error);
}

}  // namespace
}  // namespace crmt
