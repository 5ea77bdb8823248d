#include "crmt/methods/msefm.h"

#include <gtest/gtest.h>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/models/feature_memory.h"
#include "crmt/train/checkpoint.h"
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

TEST(Msefm, ExFMemIsPartOfTheModelAndActsAtEvaluation) {
  auto t = test::tiny("msefm", "msefm_mem", {"msefm.memory=true", "msefm.memory_size=64", "msefm.memory_mix=0.6"});
  auto memory = std::dynamic_pointer_cast<FeatureMemoryImpl>(t.net->embedding_filter());
  ASSERT_TRUE(memory) << "build_model adds the feature memory for msefm with memory on";
  Msefm msefm(MsefmSettings::from_config(t.config));
  msefm.setup(t.net, t.data.train);
  ASSERT_EQ(memory->num_modalities(), 2u);
  EXPECT_EQ(memory->memory(0).size(1), 64);
  // Atoms are unit-norm clean encoder outputs.
  EXPECT_TRUE(torch::allclose(memory->memory(1).norm(2, 0), torch::ones({64}), 1e-5, 1e-5));

  // In eval mode the model's logits are the head applied to a D A + (1 - a) phi.
  t.net->eval();
  torch::NoGradGuard no_grad;
  auto inputs = t.net->align(t.batch);
  std::vector<torch::Tensor> expected;
  for (size_t m = 0; m < 2; ++m) {
    auto phi = t.net->encode(m, inputs[m]);
    auto d = memory->memory(m);
    expected.push_back(0.6 * d.matmul(FeatureMemoryImpl::ista(d, phi, 0.1, 50)).t() + 0.4 * phi);
  }
  auto out = t.net->forward(t.batch);
  EXPECT_TRUE(torch::allclose(out.embeddings[0], expected[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.logits, t.net->head().forward(expected).logits, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(out.embeddings[0], t.net->encode(0, inputs[0]), 1e-3, 1e-3)) << "the memory changes features";

  // The memory travels in checkpoints: a fresh model loaded from one gives the same logits.
  const auto path = (test::temp_dir("ckpt") / "m.pt").string();
  const auto architecture = describe_architecture(t.net);
  EXPECT_NE(architecture.find("feature_memory[64]"), std::string::npos) << architecture;
  save_checkpoint(path, {"", architecture, 1, 0.5}, t.net, nullptr, &msefm);
  auto fresh = build_model(t.config, t.data.train.specs, t.data.train.num_classes());
  load_checkpoint(path, architecture, fresh);
  fresh->eval();
  EXPECT_TRUE(torch::allclose(fresh->forward(t.batch).logits, out.logits, 1e-6, 1e-6));
  // A model without the memory refuses it.
  auto plain = test::tiny("msefm", "msefm_plain", {"msefm.memory=false"});
  EXPECT_FALSE(plain.net->embedding_filter());
  EXPECT_THROW(load_checkpoint(path, describe_architecture(plain.net), plain.net), Error);
}

TEST(Msefm, ExFMemTrainsAndItsCertificatesStaySound) {
  auto t = test::tiny("msefm", "msefm_train", {"msefm.memory=true", "msefm.memory_size=32"});
  auto method = build_method(t.config);
  method->setup(t.net, t.data.train);
  auto step = method->loss(t.net, t.batch);
  ASSERT_TRUE(std::isfinite(step.loss.item<double>()));
  step.loss.backward();
  // Gradients reach the encoders through the ISTA iterations.
  double grad_norm = 0;
  for (auto& p : t.net->encoder_parameters(0))
    if (p.grad().defined()) grad_norm += p.grad().norm().item<double>();
  EXPECT_GT(grad_norm, 0.0);
  // Guaranteed constants (encoder bound x filter bound) dominate the empirical ones, which are
  // measured through the filter.
  auto empirical = empirical_lipschitz(t.net, t.data.train, 200);
  auto guaranteed = guaranteed_lipschitz(t.net);
  EXPECT_TRUE((guaranteed.tau >= empirical.tau).all().item<bool>());
  EXPECT_TRUE((guaranteed.pairwise >= empirical.pairwise).all().item<bool>());
  EXPECT_GT(empirical.tau.min().item<double>(), 0.0);
}

}  // namespace
}  // namespace crmt
