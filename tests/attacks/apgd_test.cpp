#include "crmt/attacks/apgd.h"

#include <gtest/gtest.h>

#include "crmt/attacks/attack_registry.h"
#include "crmt/eval/evaluator.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt {
namespace {

TEST(Apgd, ChecksItsProgressWhereTheReferenceImplementationDoes) {
  EXPECT_EQ(apgd_checkpoints(100), (std::vector<int>{22, 41, 57, 70, 80, 87, 93, 99}));
  // Short budgets still check at least once, and never at or after the last iteration.
  EXPECT_EQ(apgd_checkpoints(10), (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_TRUE(apgd_checkpoints(1).empty());
}

TEST(Apgd, DlrLossIsTheMarginOverTheTopThreeSpread) {
  auto logits = torch::tensor({{3.0, 1.0, 0.0, -1.0}, {3.0, 1.0, 0.0, -1.0}});
  auto loss = dlr_loss(logits, torch::tensor({0, 1}, torch::kLong));
  EXPECT_NEAR(loss[0].item<double>(), -2.0 / 3.0, 1e-6);  // -(3 - 1) / (3 - 0)
  EXPECT_NEAR(loss[1].item<double>(), 2.0 / 3.0, 1e-6);   // -(1 - 3) / (3 - 0)
  // Invariant to shifting and scaling the logits: the point of DLR against masked gradients.
  auto moved = dlr_loss(logits * 25 + 7, torch::tensor({0, 1}, torch::kLong));
  EXPECT_TRUE(torch::allclose(moved, loss, 1e-5, 1e-6));
  EXPECT_NE(test::error_of([] { dlr_loss(torch::zeros({2, 2}), torch::tensor({0, 1}, torch::kLong)); }).find("3 classes"),
            std::string::npos);
}

class ApgdOnAModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new MultiModalDataset(test::bounded_copy(test::image_data(256, 4, 21, 0.9), 0, -3.0, 3.0));
    auto cfg = Config::load("", {"model.encoder=small_cnn", "model.embed_dim=8", "train.epochs=3",
                                 "train.batch_size=32", "output.progress=false",
                                 "output.dir=" + test::temp_dir("apgd_model").string()});
    torch::manual_seed(0);
    net_ = new MultiModalNet(build_model(cfg, data_->specs, data_->num_classes()));
    DataSplits splits{*data_, *data_, *data_};
    *net_ = test::train_on(cfg, splits);
  }
  static double accuracy_under(const AttackSpec& spec, const std::string& modality = "all") {
    return evaluate(*net_, *data_, EvalCase{spec, modality}, 256).accuracy;
  }
  static MultiModalDataset* data_;
  static MultiModalNet* net_;
};
MultiModalDataset* ApgdOnAModel::data_ = nullptr;
MultiModalNet* ApgdOnAModel::net_ = nullptr;

TEST_F(ApgdOnAModel, IsAtLeastAsStrongAsFourStepPgd) {
  const double clean = accuracy_under(AttackSpec{"none", 0, 0});
  ASSERT_GT(clean, 0.6) << "the model must have something to lose";
  for (const std::string modality : {"all", "img0", "img1"}) {
    SCOPED_TRACE(modality);
    const double pgd = accuracy_under(AttackSpec{"pgd", 0.5, 4}, modality);
    const double apgd = accuracy_under(AttackSpec{"apgd", 0.5, 40, 0, 1}, modality);
    EXPECT_LE(apgd, pgd);
    EXPECT_LT(apgd, clean);
  }
}

TEST_F(ApgdOnAModel, RestartsAndTheSecondLossOnlyBreakMore) {
  const double one = accuracy_under(AttackSpec{"apgd_ce", 0.4, 10, 0, 1});
  const double three = accuracy_under(AttackSpec{"apgd_ce", 0.4, 10, 0, 3});
  const double both = accuracy_under(AttackSpec{"apgd", 0.4, 10, 0, 3});
  EXPECT_LE(three, one);
  EXPECT_LE(both, three);
}

TEST_F(ApgdOnAModel, IsRepeatableForASeedAndDrawsAnotherStartForAnother) {
  auto batch = data_->batch(torch::arange(64, torch::kLong));
  auto run = [&](uint64_t seed) { return build_attack(AttackSpec{"apgd_dlr", 0.5, 10, seed, 1})->perturb(*net_, batch, {0, 1}); };
  const auto original = batch.inputs[1].clone();
  auto a = run(4), b = run(4), c = run(5);
  EXPECT_TRUE(torch::equal(batch.inputs[1], original)) << "the caller's batch must not change";
  EXPECT_TRUE(torch::equal(a.inputs[1], b.inputs[1]));
  EXPECT_FALSE(torch::equal(a.inputs[1], c.inputs[1]));
}

TEST(ApgdSettingsCheck, RefusesNonsenseWithTheAttacksName) {
  auto data = test::image_data(8, 3, 1);
  auto net = build_model(Config::load("", {"model.encoder=mlp"}), data.specs, data.num_classes());
  auto batch = data.all();
  EXPECT_NE(test::error_of([&] { build_attack(AttackSpec{"apgd", 0.5, 10, 0, 0})->perturb(net, batch, {0}); }).find("apgd: restarts"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { build_attack(AttackSpec{"apgd", 0.5, 0, 0, 1})->perturb(net, batch, {0}); }).find("apgd: steps"),
            std::string::npos);
}

TEST(StrongSuite, AddsApgdOnAllAndEachModalityWithItsBudget) {
  auto cases = strong_suite({"audio", "visual"}, 0.5, 100, 5, 1.0);
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].modality, "all");
  EXPECT_EQ(cases[0].attack.eps, 0.5);
  EXPECT_EQ(cases[1].attack.eps, 1.0);
  EXPECT_EQ(cases[2].modality, "visual");
  EXPECT_EQ(cases[0].restarts(), 5);
  EXPECT_EQ(cases[0].steps(), 100);
  EXPECT_EQ(cases[0].label(), "apgd eps=0.5 on all (100 it x 5)");
  // Results with another number of restarts are another evaluation.
  auto other = cases[0];
  other.attack.restarts = 1;
  EXPECT_FALSE(other.same_as(cases[0]));
}

}  // namespace
}  // namespace crmt
