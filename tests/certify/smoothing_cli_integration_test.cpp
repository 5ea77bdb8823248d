#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace crmt {
namespace {

const std::string kSynthetic =
    "data.name=synthetic model.encoder=mlp model.embed_dim=16 model.hidden_dim=32 data.synthetic.samples=300 "
    "data.synthetic.test_samples=40 output.progress=false --threads 1 ";

// A noise-trained model with consistency regularization, then its smoothing certificate: the
// default sigma is the training noise, and the JSON carries the common and the per-modality fields.
TEST(SmoothingCli, TrainsWithNoiseAndCertifies) {
  auto dir = test::temp_dir("smooth");
  auto train = test::run_cli("train " + kSynthetic +
                             "train.epochs=2 train.gaussian_noise=m0=0.5,m1=0.25 train.noise_copies=2 "
                             "train.noise_consistency=5 train.noise_entropy=0.5 output.dir=" +
                             dir.string());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const auto ckpt = (dir / "best.pt").string();
  auto r = test::run_cli("certify --checkpoint " + ckpt +
                         " --bound smoothing --samples-estimate 2000 --samples-select 50 --radii 0,0.25,0.5 --json "
                         "--threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto c = test::json_in_output(r.output)["certificate"];
  EXPECT_EQ(c["bound"], "smoothing");
  EXPECT_EQ(c["sound"], true);
  EXPECT_DOUBLE_EQ(c["confidence"].get<double>(), 0.999);
  EXPECT_DOUBLE_EQ(c["sigma"]["m0"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(c["sigma"]["m1"].get<double>(), 0.25);
  EXPECT_EQ(c["samples"], 40);
  ASSERT_EQ(c["certified_accuracy"].size(), 3u);
  EXPECT_DOUBLE_EQ(c["certified_accuracy"][0].get<double>(), c["clean_accuracy"].get<double>());
  // sigma(m0) = 2 sigma(m1): modality m0's uni-modal radius is twice the joint one, m1's equals it,
  // so m1 is the weak modality whenever anything is certified.
  const double joint = c["median_radius"].get<double>();
  EXPECT_NEAR(c["unimodal_median_radius"]["m0"].get<double>(), 2 * joint, 1e-9);
  EXPECT_NEAR(c["unimodal_median_radius"]["m1"].get<double>(), joint, 1e-9);
  if (c["clean_accuracy"].get<double>() > 0) EXPECT_EQ(c["weak_modality"], "m1");
  // Capped by n: Phi^-1 of the bound for n of n successes.
  EXPECT_LE(joint, 0.25 * 3.2);

  auto eval = test::run_cli("eval --checkpoint " + ckpt +
                            " --smoothed --smoothing-samples 200 --attack pgd --eps 0.25 --steps 2 --json --threads 1");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("smoothed (sigma m0=0.5,m1=0.25, n = 200)"), std::string::npos) << eval.output;

  // The report draws the smoothing curves (joint, each modality alone) next to the Lipschitz estimate's.
  const auto out = dir / "report";
  auto report = test::run_cli("report --run noisy=" + ckpt + " --out " + out.string() +
                              " --bound smoothing --samples-estimate 300 --test-size 20 --tsne-samples 0 "
                              "--eps-list 0,0.5 --lipschitz-samples 50 --quiet --threads 1");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const auto dat = test::read_file(out / "figures" / "noisy_smoothing.dat");
  EXPECT_NE(dat.find("smoothing, m0 alone"), std::string::npos) << dat.substr(0, 400);
  EXPECT_NE(dat.find("lipschitz-empirical, joint"), std::string::npos) << dat.substr(0, 400);

  // Bad input: one line naming the problem, exit code 1.
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {"--sigma 0", "needs a sigma > 0"},
           {"--sigma nan", "finite"},
           {"--sigma m0=0.5,video=1", "no modality 'video'"},
           {"--samples-select 500 --samples-estimate 100", "must not exceed"},
           {"--alpha 1", "--alpha"},
           {"--alpha 0", "--alpha"}}) {
    auto bad = test::run_cli("certify --checkpoint " + ckpt + " --bound smoothing " + args + " --threads 1");
    EXPECT_EQ(bad.exit_code, 1) << args << ": " << bad.output;
    EXPECT_NE(bad.output.find(expected), std::string::npos) << args << ": " << bad.output;
  }
}

TEST(SmoothingCli, NoiseFreeCheckpointNeedsSigmaAndMixupRefusesConsistency) {
  auto dir = test::temp_dir("plain");
  auto train = test::run_cli("train " + kSynthetic + "train.epochs=1 output.dir=" + dir.string());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto r = test::run_cli("certify --checkpoint " + (dir / "best.pt").string() + " --bound smoothing --threads 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("give --sigma"), std::string::npos) << r.output;

  auto mix = test::run_cli("train " + kSynthetic +
                           "train.method=mixup train.epochs=1 train.gaussian_noise=0.5 train.noise_copies=2 "
                           "train.noise_consistency=5 output.dir=" +
                           (dir / "mix").string());
  EXPECT_EQ(mix.exit_code, 1);
  EXPECT_NE(mix.output.find("train.noise_consistency"), std::string::npos) << mix.output;
}

}  // namespace
}  // namespace crmt
