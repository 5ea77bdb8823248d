#include "crmt/data/source.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "crmt/core/error.h"

namespace crmt {
namespace {

ModalitySpecs two_specs() { return {ModalitySpec{"visual", {1, 2, 2}}, ModalitySpec{"audio", {1, 3}}}; }

struct Stored {
  at::Tensor pixels = torch::randint(0, 256, {5, 1, 2, 2}, torch::TensorOptions().dtype(torch::kByte));
  at::Tensor spectra = torch::randn({5, 1, 3}).mul(3).to(torch::kHalf);
  at::Tensor labels = torch::tensor({0, 1, 2, 1, 0}, torch::kLong);
  std::vector<StoredScale> scales{{1.0 / 255.0, 0.2695, 0.3305}, {1.0, -1.8148, 2.0635}};

  TensorSource source() const {
    return TensorSource(two_specs(), {pixels, spectra}, labels, {"a", "b", "c"}, "stored", scales);
  }
  // What normalizing everything at load gave before: the same operations on the whole array.
  at::Tensor normalized(size_t m) const {
    const auto& s = scales[m];
    return (m == 0 ? pixels : spectra).to(torch::kFloat).mul_(s.scale).sub_(s.mean).div_(s.stdev);
  }
};

TEST(TensorSource, StoredValuesReadAsTheFloat32OfNormalizingAtLoad) {
  Stored stored;
  const auto source = stored.source();
  const auto rows = torch::tensor({3, 1, 4}, torch::kLong);
  const auto batch = source.gather(rows, {});
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(batch[m].scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(batch[m], stored.normalized(m).index_select(0, rows))) << "modality " << m;
  }
  const auto sample = source.get(2, {});
  EXPECT_TRUE(torch::equal(sample.inputs[0], stored.normalized(0)[2]));
  EXPECT_TRUE(torch::equal(sample.inputs[1], stored.normalized(1)[2]));
  EXPECT_EQ(sample.label, 2);
}

TEST(TensorSource, ReadingNeverChangesStoredFloat32Values) {
  Stored stored;
  const auto values = torch::randn({5, 1, 3});
  const auto before = values.clone();
  TensorSource source(two_specs(), {stored.pixels, values}, stored.labels, {"a", "b", "c"}, "stored", stored.scales);
  // get() reads a view of the stored row: normalizing it in place would change the source.
  const auto sample = source.get(1, {});
  source.gather(torch::tensor({0, 1}, torch::kLong), {});
  EXPECT_TRUE(torch::equal(values, before));
  EXPECT_TRUE(torch::allclose(sample.inputs[1], (before[1] - stored.scales[1].mean) / stored.scales[1].stdev));
}

TEST(TensorSource, WithoutScalesInputsAreUsedAsTheyAre) {
  Stored stored;
  const auto visual = torch::randn({5, 1, 2, 2}), audio = torch::randn({5, 1, 3});
  TensorSource source(two_specs(), {visual, audio}, stored.labels, {"a", "b", "c"}, "plain");
  EXPECT_TRUE(torch::equal(source.gather(torch::tensor({4, 0}, torch::kLong), {})[0], visual.index_select(0, torch::tensor({4, 0}))));
  // Stored bytes need their scales: without them they are not model inputs.
  EXPECT_THROW(TensorSource(two_specs(), {stored.pixels, audio}, stored.labels, {"a", "b", "c"}, "plain"), Error);
}

TEST(TensorSource, BadScalesAndStorageTypesAreErrorsNamingTheSource) {
  Stored stored;
  auto error_of = [&](std::vector<at::Tensor> inputs, std::vector<StoredScale> scales) {
    try {
      TensorSource(two_specs(), std::move(inputs), stored.labels, {"a", "b", "c"}, "data/x (train)", std::move(scales));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto zero_std = stored.scales;
  zero_std[1].stdev = 0;
  EXPECT_NE(error_of({stored.pixels, stored.spectra}, zero_std).find("data/x (train)"), std::string::npos);
  EXPECT_NE(error_of({stored.pixels, stored.spectra}, zero_std).find("'audio'"), std::string::npos);
  EXPECT_NE(error_of({stored.pixels, stored.spectra}, {stored.scales[0]}).find("1 stored scales for 2"), std::string::npos);
  const auto ints = stored.spectra.to(torch::kInt);
  EXPECT_NE(error_of({stored.pixels, ints}, stored.scales).find("uint8, float16 or float32"), std::string::npos);
}

}  // namespace
}  // namespace crmt
