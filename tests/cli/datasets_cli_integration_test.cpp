// Every dataset trains and evaluates end to end from its fixture through the command-line tool, as
// a user meets it: make-fixture, then the shipped recipe with data.root pointing at the fixture.
#include <gtest/gtest.h>

#include "test_util.h"

namespace crmt {
namespace {

struct DatasetCase {
  std::string dataset, configs;
};

// Shown by name in test listings.
void PrintTo(const DatasetCase& c, std::ostream* os) { *os << c.dataset; }

class DatasetCli : public ::testing::TestWithParam<DatasetCase> {};

TEST_P(DatasetCli, FixtureTrainsAndEvaluatesWithTheShippedRecipe) {
  const auto& c = GetParam();
  const auto dir = test::temp_dir("cli_" + c.dataset);
  const auto root = (dir / "data").string();
  auto made = test::run_cli("data make-fixture " + c.dataset + " --out " + root + " --clips 4");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto run = (dir / "run").string();
  // Small frames keep the test fast; everything else is the recipe.
  const std::string config = std::string(CRMT_SOURCE_DIR) + "/configs/" + c.configs + "/crmt_jt.yaml";
  auto train = test::run_cli("train --config " + config + " data.root=" + root + " data." + c.dataset +
                             ".image_size=32 data.val_fraction=0 train.epochs=1 crmt.step2_epochs=1 "
                             "crmt.lipschitz_samples=4 train.batch_size=4 output.progress=false output.dir=" + run);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto eval = test::run_cli("eval --checkpoint " + run + "/best.pt --suite --steps 1 --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("\"accuracy\""), std::string::npos) << eval.output;
}

INSTANTIATE_TEST_SUITE_P(Datasets, DatasetCli,
                         ::testing::Values(DatasetCase{"kinetics_sounds", "ks"}, DatasetCase{"vggsound", "vggsound"},
                                           DatasetCase{"ucf101", "ucf101"}, DatasetCase{"cremad", "cremad"}),
                         [](const auto& info) { return info.param.dataset; });

// The paper's Kinetics-Sounds shapes (3 frames of 224 x 224, a 1024 x 128 spectrogram) through a
// ResNet-18 model: the attack suite and the certificate run on it.
TEST(DatasetCli, KineticsSoundsShapedResNetIsEvaluatedAndCertified) {
  const auto dir = test::temp_dir("cli_ks_full");
  const auto root = (dir / "data").string();
  ASSERT_EQ(test::run_cli("data make-fixture kinetics_sounds --out " + root + " --clips 2").exit_code, 0);
  const auto run = (dir / "run").string();
  auto train = test::run_cli("train --config " + std::string(CRMT_SOURCE_DIR) + "/configs/ks/crmt_jt.yaml data.root=" +
                             root + " data.val_fraction=0 train.epochs=1 crmt.step2_epochs=1 crmt.lipschitz_samples=2 "
                             "train.batch_size=2 output.progress=false output.dir=" + run);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto eval = test::run_cli("eval --checkpoint " + run + "/best.pt --suite --steps 1");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("visual"), std::string::npos) << eval.output;
  auto cert = test::run_cli("certify --checkpoint " + run + "/best.pt --samples 2 --json");
  ASSERT_EQ(cert.exit_code, 0) << cert.output;
  EXPECT_NE(cert.output.find("\"eta\""), std::string::npos) << cert.output;
}

}  // namespace
}  // namespace crmt
