#include "crmt/data/embedded_synthesis.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "test_util.h"

namespace crmt {
namespace {

using test::error_of;

TEST(EmbeddedSynthesis, TrainAndTestVoicesAreDisjoint) {
  EmbeddedRecipe recipe;
  auto train = embedded_voices(EmbeddedSplit::Train, recipe, 0);
  auto test = embedded_voices(EmbeddedSplit::Test, recipe, 0);
  EXPECT_EQ(train.size(), 10u * recipe.train_utterances_per_class);
  EXPECT_EQ(test.size(), 10u * recipe.test_utterances_per_class);
  std::set<std::string> train_variants, test_variants, train_voices;
  for (const auto& v : train) train_variants.insert(v.variant), train_voices.insert(v.describe());
  for (const auto& v : test) test_variants.insert(v.variant);
  for (const auto& v : test_variants) EXPECT_EQ(train_variants.count(v), 0u) << v;
  EXPECT_GE(train_variants.size(), 10u);
  EXPECT_GE(test_variants.size(), 5u);
  EXPECT_GT(train_voices.size(), train.size() / 2) << "rates and pitches should vary";
}

TEST(EmbeddedSynthesis, BadRecipesAreErrors) {
  EmbeddedRecipe r;
  EXPECT_NO_THROW(check_recipe(r));
  r.test_utterances_per_class = 0;
  EXPECT_NE(error_of([&] { check_recipe(r); }).find("utterance"), std::string::npos);
  r = EmbeddedRecipe{};
  r.min_pitch = 90;
  EXPECT_NE(error_of([&] { check_recipe(r); }).find("min <= max"), std::string::npos);
  r = EmbeddedRecipe{};
  r.visual_occlusion = 29;
  EXPECT_NE(error_of([&] { embedded_voices(EmbeddedSplit::Train, r, 0); }).find("visual_occlusion"), std::string::npos);
}

TEST(EmbeddedSynthesis, StratifiedIndicesKeepClassShares) {
  auto labels = torch::tensor({0, 0, 0, 1, 1, 2}, torch::kLong);
  auto idx = stratified_indices(labels, 3, 0);
  auto lab = labels.index_select(0, idx);
  EXPECT_TRUE(torch::bincount(lab, {}, 3).equal(torch::tensor({2, 1, 0}, torch::kLong)));
  // Sorted, a function of the seed, and everything when all samples are asked for.
  auto big = torch::arange(100, torch::kLong).remainder(7);
  auto a = stratified_indices(big, 30, 5);
  EXPECT_TRUE(a.equal(std::get<0>(a.sort())));
  EXPECT_TRUE(a.equal(stratified_indices(big, 30, 5)));
  EXPECT_FALSE(a.equal(stratified_indices(big, 30, 6)));
  EXPECT_TRUE(stratified_indices(big, 100, 5).equal(torch::arange(100, torch::kLong)));
  EXPECT_NE(error_of([&] { stratified_indices(big, 101, 5); }).find("101"), std::string::npos);
}

TEST(EmbeddedSynthesis, NoiseTracksHaveUnitRmsAndNoDc) {
  EmbeddedRecipe recipe;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto noise = noise_bank(recipe, gen);
  ASSERT_EQ(noise.dim(), 2);
  EXPECT_EQ(noise.size(1), 3 * embedded_log_mel().sample_rate);
  auto rms = noise.pow(2).mean(-1).sqrt();
  EXPECT_TRUE(torch::allclose(rms, torch::ones_like(rms), 1e-4, 1e-4));
  EXPECT_LT(noise.mean(-1).abs().max().item<float>(), 1e-4);
}

// A bank of synthetic "utterances" (sine bursts), two per class, one shorter and one longer than a clip.
std::vector<std::vector<Utterance>> tone_bank() {
  std::vector<std::vector<Utterance>> bank(embedded_class_names().size());
  for (size_t c = 0; c < bank.size(); ++c) {
    for (int64_t len : {int64_t{4000}, embedded_clip_samples() + 1500}) {
      Utterance u;
      for (int64_t t = 0; t < len; ++t) u.samples.push_back(0.5f * std::sin(0.01f * (c + 1) * t));
      double sq = 0;
      for (float v : u.samples) sq += double(v) * v;
      u.power = sq / static_cast<double>(u.samples.size());
      bank[c].push_back(u);
    }
  }
  return bank;
}

TEST(EmbeddedSynthesis, GeneratedSplitIsAFunctionOfSeedAndSplit) {
  const int64_t n = 30;
  auto images = torch::randint(0, 256, {n, 28, 28}, torch::kLong).to(torch::kByte);
  auto labels = torch::arange(n, torch::kLong).remainder(10);
  const auto bank = tone_bank();
  EmbeddedRecipe recipe;
  auto make = [&](EmbeddedSplit split, uint64_t seed) {
    ProgressBar bar("test", n, false);
    int64_t done = 0;
    auto out = generate_split(split, images, labels, bank, recipe, seed, bar, done);
    EXPECT_EQ(done, n);
    return out;
  };
  auto a = make(EmbeddedSplit::Train, 1);
  EXPECT_EQ(a.visual.sizes().vec(), (std::vector<int64_t>{n, 1, 28, 28}));
  EXPECT_EQ(a.visual.scalar_type(), torch::kByte);
  EXPECT_EQ(a.audio.sizes().vec(), (std::vector<int64_t>{n, 1, 32, 32}));
  EXPECT_EQ(a.audio.scalar_type(), torch::kHalf);
  EXPECT_TRUE(a.labels.equal(labels));
  EXPECT_TRUE(torch::isfinite(a.audio).all().item<bool>());
  auto again = make(EmbeddedSplit::Train, 1);
  EXPECT_TRUE(again.visual.equal(a.visual));
  EXPECT_TRUE(again.audio.equal(a.audio));
  for (const auto& other : {make(EmbeddedSplit::Train, 2), make(EmbeddedSplit::Test, 1)}) {
    EXPECT_FALSE(other.visual.equal(a.visual));
    EXPECT_FALSE(other.audio.equal(a.audio));
  }
}

TEST(EmbeddedSynthesis, SeedStreamsDiffer) {
  EXPECT_EQ(mix_seed(0, 1), mix_seed(0, 1));
  EXPECT_NE(mix_seed(0, 1), mix_seed(0, 2));
  EXPECT_NE(mix_seed(0, 1), mix_seed(1, 1));
}

}  // namespace
}  // namespace crmt
