#include "crmt/methods/pmr.h"

#include <gtest/gtest.h>

#include "method_test_util.h"

namespace crmt {
namespace {

TEST(Pmr, PrototypesAreClassMeansOfTheEmbeddings) {
  auto t = test::tiny("pmr", "pmr", {"pmr.proto_fraction=1.0", "pmr.momentum=0.2"});
  Pmr pmr(PmrSettings::from_config(t.config));
  pmr.setup(t.net, t.data.train);
  const auto& train = t.data.train;
  torch::NoGradGuard no_grad;
  t.net->eval();
  auto out = t.net->forward(train.all());
  for (size_t m = 0; m < 2; ++m)
    for (int64_t k = 0; k < train.num_classes(); ++k) {
      auto mean = out.embeddings[m].index({train.labels == k}).mean(0);
      EXPECT_TRUE(torch::allclose(pmr.prototypes()[m][k], mean, 1e-4, 1e-5)) << "modality " << m << " class " << k;
    }
  // After an epoch: (1 - momentum) * new means + momentum * old prototypes.
  auto old = pmr.prototypes();
  {
    torch::AutoGradMode on(true);
    for (auto& p : t.net->parameters()) p.data().add_(0.05);
  }
  pmr.update_prototypes(t.net, train, false);
  auto fresh = Pmr::class_means(t.net, train, torch::arange(train.size(), torch::kLong), 128);
  for (size_t m = 0; m < 2; ++m) EXPECT_TRUE(torch::allclose(pmr.prototypes()[m], 0.8 * fresh[m] + 0.2 * old[m], 1e-4, 1e-5));
}

TEST(Pmr, OnlyTheWeakerModalityGetsThePrototypicalLoss) {
  auto t = test::tiny("pmr", "pmr_loss", {"pmr.proto_fraction=1.0", "pmr.alpha=1.5"});
  Pmr pmr(PmrSettings::from_config(t.config));
  pmr.setup(t.net, t.data.train);
  t.net->eval();
  auto step = pmr.loss(t.net, t.batch);
  const auto& s = pmr.last_scores();
  const size_t weak = s[0] < s[1] ? 0 : 1;
  EXPECT_EQ(pmr.last_coefficients()[weak], 1.5);
  EXPECT_EQ(pmr.last_coefficients()[1 - weak], 0.0);
  namespace F = torch::nn::functional;
  auto out = t.net->forward(t.batch);
  auto d = torch::cdist(out.embeddings[weak], pmr.prototypes()[weak]);
  auto expected = F::cross_entropy(out.logits, t.batch.labels) + 1.5 * F::cross_entropy(-d, t.batch.labels);
  EXPECT_NEAR(step.loss.item<double>(), expected.item<double>(), 1e-4);
  // Score by hand for the weak modality.
  EXPECT_NEAR(s[weak], torch::softmax(-d, 1).gather(1, t.batch.labels.unsqueeze(1)).sum().item<double>(), 1e-3);
  // Outside the modulation epochs: CE only.
  t.config.set("pmr.modulation_end", "0");
  Pmr late(PmrSettings::from_config(t.config));
  late.setup(t.net, t.data.train);
  late.set_epoch(1);
  EXPECT_NEAR(late.loss(t.net, t.batch).loss.item<double>(), F::cross_entropy(out.logits, t.batch.labels).item<double>(), 1e-5);
}

}  // namespace
}  // namespace crmt
