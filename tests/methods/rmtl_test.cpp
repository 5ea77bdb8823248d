#include "crmt/methods/rmtl.h"

#include <gtest/gtest.h>

#include "method_test_util.h"

namespace crmt {
namespace {

TEST(Rmtl, ModalitySpecificTasksSeeTheOtherModalitiesZeroed) {
  auto t = test::tiny("rmtl", "rmtl", {"rmtl.unimodal_weight=0.5"});
  auto method = build_method(t.config);
  auto& rmtl = dynamic_cast<Rmtl&>(*method);
  auto step = rmtl.loss(t.net, t.batch);
  const auto& tasks = rmtl.last_tasks();
  ASSERT_EQ(tasks.size(), 2u);
  namespace F = torch::nn::functional;
  double expected = F::cross_entropy(t.net->forward(t.batch).logits, t.batch.labels).item<double>();
  for (size_t keep = 0; keep < 2; ++keep) {
    for (size_t m = 0; m < 2; ++m) {
      if (m == keep) {
        EXPECT_TRUE(torch::equal(tasks[keep].inputs[m], t.batch.inputs[m]));
        EXPECT_TRUE(tasks[keep].present[m]);
      } else {
        EXPECT_EQ(tasks[keep].inputs[m].abs().max().item<double>(), 0.0);
        EXPECT_FALSE(tasks[keep].present[m]);
      }
    }
    std::vector<torch::Tensor> inputs = {torch::zeros_like(t.batch.inputs[0]), torch::zeros_like(t.batch.inputs[1])};
    inputs[keep] = t.batch.inputs[keep];
    expected += 0.5 * F::cross_entropy(t.net->forward(inputs).logits, t.batch.labels).item<double>();
  }
  EXPECT_NEAR(step.loss.item<double>(), expected, 1e-5);
}

TEST(Rmtl, AllTasksShareOneBatchNormPass) {
  // With batch-norm encoders the modality-specific tasks (whole inputs zeroed) must be normalized
  // together with the full-modal task: one pass updates the running statistics once, with the
  // statistics of the mixture that training itself normalizes with.
  auto d = test::image_data(16, 3, 7);
  auto config = Config::load("", {"model.encoder=small_cnn", "model.embed_dim=8", "train.method=rmtl"});
  auto net = build_model(config, d.specs, 3);
  net->train();
  auto method = build_method(config);
  auto batch = d.batch(torch::arange(16, torch::kLong));
  auto step = method->loss(net, batch);
  EXPECT_EQ(step.logits.size(0), 16);
  int64_t norms = 0;
  for (auto& b : net->named_buffers()) {
    if (b.key().find("num_batches_tracked") == std::string::npos) continue;
    EXPECT_EQ(b.value().item<int64_t>(), 1) << b.key();
    ++norms;
  }
  EXPECT_GT(norms, 0);
  // The first batch norm of img0 saw 2 tasks with the input and 1 with zeros: its running mean
  // moved by momentum 0.1 towards the mean of that mixture of first-conv outputs.
  auto& bn = *net->encoder(0).named_modules()["body.1"]->as<torch::nn::BatchNorm2d>();
  auto conv = net->encoder(0).named_modules()["body.0"]->as<torch::nn::Conv2d>();
  torch::NoGradGuard no_grad;
  auto mixture = torch::cat({batch.inputs[0], batch.inputs[0], torch::zeros_like(batch.inputs[0])});
  auto expected = 0.1 * conv->forward(mixture).mean({0, 2, 3});
  EXPECT_TRUE(torch::allclose(bn.running_mean, expected, 1e-4, 1e-5)) << bn.running_mean << expected;
}

}  // namespace
}  // namespace crmt
