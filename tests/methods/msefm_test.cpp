#include "crmt/methods/msefm.h"

#include <gtest/gtest.h>

#include "method_test_util.h"

namespace crmt {
namespace {

TEST(Msefm, MinSimAddsTheMeanCosineSimilarityOfTheModalities) {
  auto t = test::tiny("msefm", "msefm", {"msefm.sim_weight=0.7"});
  auto method = build_method(t.config);
  auto step = method->loss(t.net, t.batch);
  auto out = t.net->forward(t.batch);
  auto e0 = out.embeddings[0].to(torch::kDouble), e1 = out.embeddings[1].to(torch::kDouble);
  auto cos = ((e0 * e1).sum(1) / (e0.norm(2, 1) * e1.norm(2, 1))).mean().item<double>();
  auto ce = torch::nn::functional::cross_entropy(out.logits, t.batch.labels).item<double>();
  EXPECT_NEAR(step.loss.item<double>(), ce + 0.7 * cos, 1e-5);
  // The term pushes the modalities apart: its gradient w.r.t. phi(0) is anti-parallel to phi(1)'s part.
  auto x = torch::randn({4, 8}, torch::requires_grad()), y = torch::randn({4, 8});
  Msefm::mean_cosine_similarity({x, y}).backward();
  auto along = (x.grad() * (y / y.norm(2, 1, true) - x.detach() / x.detach().norm(2, 1, true))).sum();
  EXPECT_GT(along.item<double>(), 0.0) << "gradient ascent on similarity moves x towards y";
}

TEST(Msefm, ExFMemMixesEachFeatureWithItsSparseReconstructionFromTheMemory) {
  // ISTA recovers a 1-sparse code exactly when the atom is in an orthonormal dictionary.
  auto d = torch::eye(6).slice(1, 0, 4);  // [6, 4]
  auto x = torch::zeros({1, 6});
  x[0][2] = 3.0;
  auto code = Msefm::ista(d, x, 0.1, 200);
  EXPECT_NEAR(code[2][0].item<double>(), 2.9, 1e-4) << "soft-threshold by lambda";
  EXPECT_NEAR(code.abs().sum().item<double>(), 2.9, 1e-4);

  auto t = test::tiny("msefm", "msefm_mem", {"msefm.memory=true", "msefm.memory_size=64", "msefm.memory_mix=0.6"});
  Msefm msefm(MsefmSettings::from_config(t.config));
  msefm.setup(t.net, t.data.train);
  ASSERT_EQ(msefm.memory().size(), 2u);
  EXPECT_EQ(msefm.memory()[0].size(1), 64);
  auto out = t.net->forward(t.batch);
  auto recalled = msefm.recall(0, out.embeddings[0]);
  auto reconstruction = msefm.memory()[0].matmul(Msefm::ista(msefm.memory()[0], out.embeddings[0], 0.1, 50)).t();
  EXPECT_TRUE(torch::allclose(recalled, 0.6 * reconstruction + 0.4 * out.embeddings[0], 1e-5, 1e-6));
  auto step = msefm.loss(t.net, t.batch);
  EXPECT_TRUE(std::isfinite(step.loss.item<double>()));
}

}  // namespace
}  // namespace crmt
