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

}  // namespace
}  // namespace crmt
