#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/models/concat_head.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/resnet.h"
#include "crmt/models/small_cnn.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt {
namespace {

TEST(MultiModalNet, ThreeModalitiesTrainAndFuseBetterThanAnyOne) {
  // Noisy modalities: each alone is weak, together they are strong.
  auto cfg = test::synthetic_config(test::temp_dir("three"), 3, 6);
  cfg.set("data.synthetic.noise", "1.6");
  cfg.set("data.synthetic.samples", "900");
  DataSplits data;
  auto net = test::train_synthetic(cfg, &data);
  ASSERT_EQ(net->num_modalities(), 3u);
  const double fused = accuracy(net, data.test, 256);
  auto out = net->forward(data.test.all());
  ASSERT_EQ(out.embeddings.size(), 3u);
  for (size_t m = 0; m < 3; ++m) {
    const double alone = out.unimodal_scores[m].argmax(1).eq(data.test.labels).to(torch::kFloat).mean().item<double>();
    EXPECT_GT(fused, alone + 0.03) << "modality " << m << " alone " << alone << " fused " << fused;
  }
  EXPECT_GT(fused, 0.75);
}

TEST(MultiModalNet, ConcatHeadLogitsAreTheSumOfUnimodalScoresPlusBias) {
  ConcatHeadImpl head({3, 5}, 4);
  auto a = torch::randn({6, 3}), b = torch::randn({6, 5});
  auto out = head.forward({a, b});
  auto direct = head.fc->forward(torch::cat({a, b}, 1));
  EXPECT_TRUE(torch::allclose(out.logits, direct, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.unimodal_scores[1], torch::matmul(b, head.modality_weight(1).t())));
}

TEST(MultiModalNet, InputsAreMatchedByNameNotPosition) {
  auto cfg = test::synthetic_config(test::temp_dir("names"), 2, 1);
  auto data = load_data(cfg, false);
  auto net = build_model(cfg, data.train.specs, data.train.num_classes());
  net->eval();
  auto batch = data.test.batch(torch::arange(5));
  auto swapped = batch;
  std::swap(swapped.modalities[0], swapped.modalities[1]);
  std::swap(swapped.inputs[0], swapped.inputs[1]);
  EXPECT_TRUE(torch::equal(net->forward(batch).logits, net->forward(swapped).logits));
  swapped.modalities[0] = "flow";
  EXPECT_THROW(net->forward(swapped), Error);
}

TEST(Encoders, SmallCnnAndResNetShapes) {
  SmallCnnImpl cnn(1, 64);
  EXPECT_EQ(cnn.forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 64}));
  ResNetImpl audio(1, 1);
  audio.eval();
  EXPECT_EQ(audio.forward(torch::randn({2, 1, 64, 64})).sizes(), (std::vector<int64_t>{2, 512}));
  EXPECT_THROW(audio.forward(torch::randn({2, 3, 64, 64})), Error);
}

TEST(Encoders, ResNetAveragesFramesOverTime) {
  torch::NoGradGuard no_grad;
  ResNetImpl visual(3, 2);
  visual.eval();
  auto clip = torch::randn({2, 2, 3, 32, 32});
  auto f0 = visual.forward(clip.select(1, 0));
  auto f1 = visual.forward(clip.select(1, 1));
  EXPECT_TRUE(torch::allclose(visual.forward(clip), (f0 + f1) / 2, 1e-4, 1e-5));
}

TEST(ConcatHead, VulnerabilityIsThePairwiseConstantWithZeroDiagonal) {
  ConcatHeadImpl head({5, 3}, 4);
  auto tau = torch::rand({4}, torch::kDouble);  // not used by this head
  auto pairwise = torch::rand({4, 4}, torch::kDouble) + 0.5;
  const auto before = pairwise.clone();
  auto eta = head.vulnerability(1, tau, pairwise);
  ASSERT_EQ(eta.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(eta.scalar_type(), torch::kDouble);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(eta[y][j].item<double>(), y == j ? 0.0 : pairwise[y][j].item<double>()) << y << " " << j;
  EXPECT_TRUE(torch::equal(pairwise, before)) << "the head must not zero the caller's diagonal";
  EXPECT_THROW(head.vulnerability(0, tau, torch::ones({3, 3}, torch::kDouble)), Error);
  EXPECT_THROW(head.vulnerability(0, tau, {}), Error);
  EXPECT_THROW(head.vulnerability(2, tau, pairwise), Error);
}

}  // namespace
}  // namespace crmt
