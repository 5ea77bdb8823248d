#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "crmt/core/config.h"
#include "crmt/data/modality_noise.h"
#include "crmt/train/noise_training.h"
#include "test_util.h"

namespace crmt {
namespace {

// Two copies of one sample with softmax p1 = (0.5, 0.5) and p2 = (0.9, 0.1), by hand:
// p_bar = (0.7, 0.3); KL(p_bar || p_i) = sum p_bar log(p_bar / p_i); H(p_bar) = -sum p_bar log p_bar.
TEST(NoiseTraining, ConsistencyTermsMatchAHandComputation) {
  const auto logits = torch::tensor({{0.0, 0.0}, {std::log(9.0), 0.0}}, torch::kDouble);
  const auto terms = consistency_terms(logits, 2);
  const double kl1 = 0.7 * std::log(0.7 / 0.5) + 0.3 * std::log(0.3 / 0.5);
  const double kl2 = 0.7 * std::log(0.7 / 0.9) + 0.3 * std::log(0.3 / 0.1);
  EXPECT_NEAR(terms.consistency.item<double>(), 0.5 * (kl1 + kl2), 1e-12);
  EXPECT_NEAR(terms.entropy.item<double>(), -(0.7 * std::log(0.7) + 0.3 * std::log(0.3)), 1e-12);
  // Identical copies are consistent; logits of 1000 stay finite (log-sum-exp, no exp of raw logits).
  const auto same = consistency_terms(torch::tensor({{1000.0, 0.0}, {1000.0, 0.0}}, torch::kDouble), 2);
  EXPECT_NEAR(same.consistency.item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(std::isfinite(same.entropy.item<double>()));
}

TEST(NoiseTraining, CopiesGetIndependentNoiseOfEachModalitysSigma) {
  NoiseTraining training(parse_modality_noise("a=0.5,b=0", {"a", "b"}, "test", false), 3, 0, 0);
  Batch batch;
  batch.modalities = {"a", "b"};
  batch.inputs = {torch::ones({2000, 5}), torch::full({2000, 4}, 2.0)};
  batch.labels = torch::arange(2000, torch::kLong);
  batch.present = {true, true};
  torch::manual_seed(0);
  const auto noisy = training.augment(batch);
  ASSERT_EQ(noisy.size(), 6000);
  EXPECT_TRUE(noisy.labels.equal(batch.labels.repeat({3})));
  const auto e = noisy.inputs[0] - 1.0;
  // 30000 draws: the standard deviation within 5 of its standard errors (0.5 / sqrt(2 * 30000)).
  EXPECT_NEAR(e.std().item<double>(), 0.5, 5 * 0.5 / std::sqrt(60000.0));
  EXPECT_NEAR(e.mean().item<double>(), 0.0, 5 * 0.5 / std::sqrt(30000.0));
  // The copies differ from each other; sigma 0 leaves modality b untouched.
  EXPECT_FALSE(e.slice(0, 0, 2000).equal(e.slice(0, 2000, 4000)));
  EXPECT_TRUE(noisy.inputs[1].equal(torch::full({6000, 4}, 2.0)));
}

TEST(NoiseTraining, ConfigSettingsAreCheckedWithTheKeyNamed) {
  const std::vector<std::string> mods{"audio", "visual"};
  EXPECT_EQ(NoiseTraining::from_config(Config(), mods), nullptr);  // off by default
  auto with = [&](std::vector<std::string> settings) {
    return test::error_of([&] { NoiseTraining::from_config(Config::load("", settings), mods); });
  };
  EXPECT_NE(with({"train.gaussian_noise=-0.5"}).find("train.gaussian_noise"), std::string::npos);
  EXPECT_NE(with({"train.gaussian_noise=video=0.5"}).find("no modality 'video'"), std::string::npos);
  EXPECT_NE(with({"train.gaussian_noise=0.5", "train.noise_copies=0"}).find("train.noise_copies"), std::string::npos);
  EXPECT_NE(with({"train.gaussian_noise=0.5", "train.noise_consistency=10"}).find("noise_copies to 2"),
            std::string::npos);
  EXPECT_NE(with({"train.noise_consistency=10", "train.noise_copies=2"}).find("need train.gaussian_noise"),
            std::string::npos);
  EXPECT_NE(with({"train.gaussian_noise=0.5", "train.noise_copies=2", "train.noise_consistency=inf"})
                .find("train.noise_consistency"),
            std::string::npos);
  const auto ok = NoiseTraining::from_config(Config::load("", {"train.gaussian_noise=audio=0.25,visual=0.5"}), mods);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->noise().sigma, (std::vector<double>{0.25, 0.5}));
}

}  // namespace
}  // namespace crmt
