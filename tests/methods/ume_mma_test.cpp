#include "crmt/methods/ume_mma.h"

#include <gtest/gtest.h>

#include "crmt/methods/method_helpers.h"
#include "method_test_util.h"

namespace crmt {
namespace {

TEST(UmeMma, UnimodalStageTrainsEachEncoderOnItsOwnModalityOnly) {
  auto t = test::tiny("ume_mma", "ume1", {"ume_mma.unimodal_epochs=1"});
  auto method = build_method(t.config);
  auto& ume = dynamic_cast<UmeMma&>(*method);
  ASSERT_TRUE(ume.in_unimodal_stage());
  auto enc0 = t.net->encoder_parameters(0);
  t.net->zero_grad();
  ume.loss(t.net, t.batch).loss.backward();
  auto g_before = test::grads_of(enc0);
  // Changing modality 1's input must not change the gradient of modality 0's encoder.
  auto other = t.batch;
  other.inputs[1] = torch::randn_like(t.batch.inputs[1]) * 3;
  t.net->zero_grad();
  ume.loss(t.net, other).loss.backward();
  auto g_after = test::grads_of(enc0);
  for (size_t i = 0; i < g_before.size(); ++i) EXPECT_TRUE(torch::allclose(g_before[i], g_after[i], 1e-5, 1e-7));
  // And the loss is the sum of the uni-modal cross-entropies.
  auto out = t.net->forward(t.batch);
  auto logits = modality_logits(t.net, out);
  double expected = 0;
  for (auto& l : logits) expected += torch::nn::functional::cross_entropy(l, t.batch.labels).item<double>();
  EXPECT_NEAR(ume.loss(t.net, t.batch).loss.item<double>(), expected, 1e-5);
}

TEST(UmeMma, AdaptationStageDropsOneModalityAtTheMissingRate) {
  auto t = test::tiny("ume_mma", "ume2", {"ume_mma.unimodal_epochs=1", "ume_mma.missing_rate=0.5"});
  auto method = build_method(t.config);
  auto& ume = dynamic_cast<UmeMma&>(*method);
  ume.set_epoch(1);
  ASSERT_FALSE(ume.in_unimodal_stage());
  auto big = t.data.train.batch(torch::arange(t.data.train.size(), torch::kLong));
  torch::manual_seed(1);
  auto step = ume.loss(t.net, big);
  auto dropped = ume.last_dropped();
  ASSERT_EQ(dropped.size(1), 2);
  EXPECT_LE(dropped.sum(1).max().item<int64_t>(), 1) << "a sample never loses every modality";
  const double rate = dropped.any(1).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(rate, 0.5, 0.08);
  // The loss is CE of the model on the batch with exactly those inputs zeroed.
  auto adapted = drop_per_sample(big, dropped);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t m = 0; m < 2; ++m)
      if (dropped[i][m].item<bool>()) {
        EXPECT_EQ(adapted.inputs[m][i].abs().max().item<double>(), 0.0);
      }
  auto expected = torch::nn::functional::cross_entropy(t.net->forward(adapted).logits, big.labels);
  EXPECT_NEAR(step.loss.item<double>(), expected.item<double>(), 1e-5);
}

}  // namespace
}  // namespace crmt
