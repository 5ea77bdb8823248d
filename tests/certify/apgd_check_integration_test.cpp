#include "crmt/certify/apgd_check.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/certify/lipschitz.h"
#include "test_util.h"

namespace crmt {
namespace {

class ApgdCheckOnAModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cfg = test::synthetic_config(test::temp_dir("apgd_check"), 2, 3);
    cfg.set("data.synthetic.noise", "2.0");  // overlapping classes: margins a budget can cross
    data_ = new DataSplits();
    net_ = new MultiModalNet(test::train_synthetic(cfg, data_));
  }
  static DataSplits* data_;
  static MultiModalNet* net_;
};
DataSplits* ApgdCheckOnAModel::data_ = nullptr;
MultiModalNet* ApgdCheckOnAModel::net_ = nullptr;

TEST_F(ApgdCheckOnAModel, BreaksNoSampleCertifiedWithGuaranteedConstants) {
  auto cert = certify(*net_, data_->test, guaranteed_lipschitz(*net_), {0, 0.05, 0.2, 0.5});
  auto check = apgd_check(*net_, data_->test, cert, 30, 2);
  ASSERT_EQ(check.rows.size(), 3u) << "one row per radius > 0";
  EXPECT_EQ(check.lipschitz_kind, "guaranteed");
  EXPECT_GT(check.rows[0].certified, 0) << "the check must have samples to attack";
  EXPECT_EQ(check.total_broken(), 0);
  EXPECT_EQ(apgd_check_json(check)["total_broken"], 0);
  EXPECT_NE(apgd_check_report(check).find("no certified sample was broken"), std::string::npos);
}

TEST_F(ApgdCheckOnAModel, CatchesACertificateWhoseConstantsAreTooSmall) {
  // Lipschitz constants a hundred times too small inflate every radius a hundredfold: the strong
  // attack must then break samples the certificate calls robust.
  auto lipschitz = empirical_lipschitz(*net_, data_->train);
  lipschitz.tau = lipschitz.tau / 100;
  lipschitz.pairwise = lipschitz.pairwise / 100;
  auto cert = certify(*net_, data_->test, lipschitz, {0, 1.0, 2.0});
  auto check = apgd_check(*net_, data_->test, cert, 30, 1);
  EXPECT_GT(check.total_broken(), 0);
  EXPECT_NE(apgd_check_report(check).find("does not hold"), std::string::npos);
}

}  // namespace
}  // namespace crmt
