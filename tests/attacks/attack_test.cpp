#include <gtest/gtest.h>

#include "crmt/attacks/fgm.h"
#include "crmt/attacks/pgd.h"
#include "crmt/attacks/missing_modality.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/data/data_factory.h"
#include "crmt/eval/evaluator.h"
#include "test_util.h"

namespace crmt {
namespace {

// One trained two-modality model shared by the attack tests; modality m0 gets a valid range so
// that clamping is exercised.
class AttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cfg = test::synthetic_config(test::temp_dir("attack_model"), 2, 4);
    data_ = load_data(cfg, false);
    for (auto* d : {&data_.train, &data_.val, &data_.test}) *d = test::bounded_copy(*d, 0, -1.5, 1.5);
    net_ = std::make_unique<MultiModalNet>(test::train_on(cfg, data_));
  }
  static void TearDownTestSuite() { net_.reset(); }
  static std::unique_ptr<MultiModalNet> net_;
  static DataSplits data_;
};
std::unique_ptr<MultiModalNet> AttackTest::net_;
DataSplits AttackTest::data_;

void expect_within_budget(const Batch& clean, const Batch& adv, const std::vector<size_t>& targets, double eps) {
  std::vector<at::Tensor> deltas;
  for (auto m : targets) deltas.push_back(adv.inputs[m] - clean.inputs[m]);
  auto norms = joint_norm(deltas);
  EXPECT_LE(norms.max().item<double>(), eps + 1e-5);
  EXPECT_GT(norms.max().item<double>(), 0.5 * eps) << "the attack should use most of its budget";
  for (size_t m = 0; m < clean.inputs.size(); ++m) {
    if (std::find(targets.begin(), targets.end(), m) == targets.end()) {
      EXPECT_TRUE(torch::equal(adv.inputs[m], clean.inputs[m])) << "modality " << m << " must be untouched";
    }
  }
  EXPECT_GE(adv.inputs[0].min().item<double>(), -1.5 - 1e-6);
  EXPECT_LE(adv.inputs[0].max().item<double>(), 1.5 + 1e-6);
}

TEST_F(AttackTest, FgmAndPgdStayInsideTheJointBallAndRange) {
  auto batch = data_.test.all();
  for (double eps : {0.3, 1.0, 3.0})
    for (const std::vector<size_t>& targets : {std::vector<size_t>{0, 1}, {0}, {1}}) {
      expect_within_budget(batch, Fgm(eps).perturb(*net_, batch, targets), targets, eps);
      expect_within_budget(batch, PgdL2(eps, 4).perturb(*net_, batch, targets), targets, eps);
    }
}

TEST_F(AttackTest, AccuracyFallsAsTheBudgetGrows) {
  for (const std::string kind : {"fgm", "pgd"}) {
    double previous = 2.0;
    for (double eps : {0.0, 0.5, 1.0, 2.0}) {
      auto r = evaluate(*net_, data_.test, EvalCase{AttackSpec{kind, eps, 4}, "all"}, 128);
      EXPECT_LE(r.accuracy, previous + 0.01) << kind << " eps " << eps;
      previous = r.accuracy;
    }
    auto clean = evaluate(*net_, data_.test, EvalCase{}, 128).accuracy;
    EXPECT_LT(previous, clean - 0.2) << kind << " at eps 2 should hurt a lot";
  }
}

TEST_F(AttackTest, PgdIsAtLeastAsStrongAsFgmOnAverage) {
  auto fgm = evaluate(*net_, data_.test, EvalCase{AttackSpec{"fgm", 1.0, 4}, "all"}, 128).accuracy;
  auto pgd = evaluate(*net_, data_.test, EvalCase{AttackSpec{"pgd", 1.0, 10}, "all"}, 128).accuracy;
  EXPECT_LE(pgd, fgm + 0.02);
}

TEST_F(AttackTest, MissingModalityZeroesOnlyTheTarget) {
  auto batch = data_.test.all();
  auto out = MissingModality().perturb(*net_, batch, {1});
  EXPECT_EQ(out.inputs[1].abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(out.present[1]);
  EXPECT_TRUE(out.present[0]);
  EXPECT_TRUE(torch::equal(out.inputs[0], batch.inputs[0]));
}

TEST(Perturbation, JointNormalizeLeavesZeroGradientsAlone) {
  auto a = torch::tensor({{3.0, 0.0}, {0.0, 0.0}});
  auto b = torch::tensor({{4.0}, {0.0}});
  auto unit = joint_normalize({a, b});
  EXPECT_NEAR(joint_norm(unit)[0].item<double>(), 1.0, 1e-6);
  EXPECT_EQ(joint_norm(unit)[1].item<double>(), 0.0);
  EXPECT_FALSE(torch::isnan(unit[0]).any().item<bool>());
  auto projected = project_joint_ball({a * 10, b * 10}, 2.0);
  EXPECT_NEAR(joint_norm(projected)[0].item<double>(), 2.0, 1e-6);
}

}  // namespace
}  // namespace crmt
