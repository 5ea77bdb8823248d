// The models of the paper's appendix 8.2.1 (Tables 4-6) through the command-line tool on a
// Kinetics-Sounds fixture, with the shipped configs/ks recipes: they train, every attack of the
// suite evaluates them, and certify gives a certificate only where Theorems 3.3 / 3.5 apply.
#include <gtest/gtest.h>

#include "test_util.h"

namespace crmt {
namespace {

struct Recipe {
  std::string config;
  bool late_fusion;
};

void PrintTo(const Recipe& r, std::ostream* os) { *os << r.config; }

// One Kinetics-Sounds fixture for the whole file, made on first use.
const std::string& fixture_root() {
  static const std::string root = [] {
    auto dir = (test::temp_dir("backbones_ks") / "data").string();
    auto made = test::run_cli("data make-fixture kinetics_sounds --out " + dir + " --clips 4");
    if (made.exit_code != 0) throw std::runtime_error("make-fixture failed: " + made.output);
    return dir;
  }();
  return root;
}

// Trains configs/ks/<config>.yaml on the fixture. Small frames, narrow ResNets and a one-block
// transformer keep it fast; the rest is the recipe.
test::CommandResult train_recipe(const std::string& config, const std::string& run, const std::string& extra = "") {
  return test::run_cli("train --config " + std::string(CRMT_SOURCE_DIR) + "/configs/ks/" + config +
                       ".yaml data.root=" + fixture_root() +
                       " data.kinetics_sounds.image_size=32 data.val_fraction=0 train.epochs=1 "
                       "crmt.step2_epochs=1 crmt.lipschitz_samples=4 train.batch_size=4 model.resnet_width=8 "
                       "model.transformer.dim=32 model.transformer.depth=1 model.transformer.heads=2 "
                       "output.progress=false --threads 1 output.dir=" + run + " " + extra);
}

class BackboneCli : public ::testing::TestWithParam<Recipe> {};

TEST_P(BackboneCli, TrainsEvaluatesAndIsCertifiedOnlyWhereTheTheoryHolds) {
  const auto& r = GetParam();
  const auto run = (test::temp_dir("backbones_" + r.config) / "run").string();
  // A guaranteed bound exists for ResNets: audited once (its power iterations over the 1024 x 128
  // spectrogram's convolutions take about a minute; each audit step takes the Jacobian of all 31
  // classes, hence few steps).
  const bool audited = r.config == "jt_resnet34";
  auto train = train_recipe(r.config, run);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto eval = test::run_cli("eval --checkpoint " + run + "/best.pt --suite --steps 1 --json --threads 1");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  for (const char* attack : {"\"fgm\"", "\"pgd\"", "\"missing\""})
    EXPECT_NE(eval.output.find(attack), std::string::npos) << attack << "\n" << eval.output;
  auto cert = test::run_cli("certify --checkpoint " + run + "/best.pt --samples 2 --json --threads 1");
  if (r.late_fusion) {
    ASSERT_EQ(cert.exit_code, 0) << cert.output;
    EXPECT_NE(cert.output.find("\"eta\""), std::string::npos) << cert.output;
    if (audited) {  // a guaranteed bound exists: audit it
      auto guaranteed = test::run_cli("certify --checkpoint " + run +
                                      "/best.pt --lipschitz guaranteed --audit --audit-steps 4 --json --threads 1");
      ASSERT_EQ(guaranteed.exit_code, 0) << guaranteed.output;
      EXPECT_NE(guaranteed.output.find("\"guaranteed\""), std::string::npos) << guaranteed.output;
      EXPECT_NE(guaranteed.output.find("\"violations\": 0"), std::string::npos) << guaranteed.output;
    }
  } else {
    EXPECT_EQ(cert.exit_code, 1) << cert.output;
    EXPECT_NE(cert.output.find("late-fusion"), std::string::npos) << cert.output;
    EXPECT_EQ(cert.output.find("\"eta\""), std::string::npos) << cert.output;
    EXPECT_EQ(cert.output.find("certified acc"), std::string::npos) << cert.output;
    EXPECT_EQ(cert.output.find('\n'), cert.output.size() - 1) << "one line: " << cert.output;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tables4To6, BackboneCli,
    ::testing::Values(Recipe{"jt_resnet34", true}, Recipe{"crmt_jt_resnet34", true},
                      Recipe{"jt_transformer_audio", true}, Recipe{"crmt_jt_transformer_audio", true},
                      Recipe{"mmtm", false}, Recipe{"crmt_mmtm", false}, Recipe{"mmt", false},
                      Recipe{"crmt_mmt", false}),
    [](const auto& info) { return info.param.config; });

// A transformer has no guaranteed Lipschitz constant: certify says why instead of printing a radius.
TEST(BackboneCliTransformer, GuaranteedCertificateIsRefused) {
  const auto run = (test::temp_dir("backbones_guaranteed") / "run").string();
  auto train = train_recipe("jt_transformer_audio", run, "model.encoder=transformer");  // both modalities
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto cert = test::run_cli("certify --checkpoint " + run + "/best.pt --lipschitz guaranteed --threads 1");
  EXPECT_EQ(cert.exit_code, 1) << cert.output;
  EXPECT_NE(cert.output.find("not globally Lipschitz"), std::string::npos) << cert.output;
  EXPECT_EQ(cert.output.find("certified acc"), std::string::npos) << cert.output;
  auto empirical = test::run_cli("certify --checkpoint " + run + "/best.pt --samples 2 --threads 1");
  EXPECT_EQ(empirical.exit_code, 0) << empirical.output;
}

}  // namespace
}  // namespace crmt
