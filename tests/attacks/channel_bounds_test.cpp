#include <gtest/gtest.h>
#include <torch/torch.h>

#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {
namespace {

// ImageNet-normalised RGB: each channel's valid range is [(0 - mean_c) / std_c, (1 - mean_c) / std_c].
ModalitySpec imagenet_frames(std::vector<int64_t> shape) {
  ModalitySpec spec;
  spec.name = "visual";
  spec.shape = std::move(shape);
  const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
  for (int c = 0; c < 3; ++c) {
    spec.channel_lower.push_back((0.0 - mean[c]) / stdev[c]);
    spec.channel_upper.push_back((1.0 - mean[c]) / stdev[c]);
  }
  return spec;
}

void expect_channels_within(const torch::Tensor& clamped, const torch::Tensor& original, const ModalitySpec& spec) {
  const int64_t axis = clamped.dim() - 3;
  for (int64_t c = 0; c < 3; ++c) {
    auto channel = clamped.select(axis, c);
    auto lo = spec.channel_lower[c], hi = spec.channel_upper[c];
    EXPECT_NEAR(channel.min().item<double>(), lo, 1e-6) << "channel " << c;  // the wide input reaches both ends
    EXPECT_NEAR(channel.max().item<double>(), hi, 1e-6) << "channel " << c;
    // Values inside the range are untouched.
    auto in = original.select(axis, c);
    auto inside = (in >= lo) & (in <= hi);
    EXPECT_TRUE(torch::equal(channel.masked_select(inside), in.masked_select(inside))) << "channel " << c;
  }
}

TEST(ChannelBounds, ClampEachChannelToItsOwnRange) {
  auto spec = imagenet_frames({3, 8, 8});
  EXPECT_TRUE(spec.bounded());
  EXPECT_TRUE(spec.per_channel());
  auto x = 4 * torch::randn({5, 3, 8, 8});
  expect_channels_within(clamp_to_range(x, spec), x, spec);

  // A clip [N, T, C, H, W]: the channel axis is still the third from last.
  auto clip_spec = imagenet_frames({2, 3, 8, 8});
  auto clip = 4 * torch::randn({4, 2, 3, 8, 8});
  expect_channels_within(clamp_to_range(clip, clip_spec), clip, clip_spec);
}

TEST(ChannelBounds, OneSidedAndScalarRangesAndErrors) {
  ModalitySpec spec;
  spec.name = "flow";
  spec.shape = {2, 4, 4};
  EXPECT_FALSE(spec.bounded());
  spec.channel_lower = {0.0, -1.0};  // lower bounds only
  EXPECT_TRUE(spec.bounded());
  auto x = 3 * torch::randn({3, 2, 4, 4});
  auto y = clamp_to_range(x, spec);
  EXPECT_GE(y.select(1, 0).min().item<double>(), 0.0);
  EXPECT_GE(y.select(1, 1).min().item<double>(), -1.0);
  EXPECT_TRUE(torch::equal(y.max(), x.max()));

  spec.channel_lower = {0.0, -1.0, 2.0};  // three entries for two channels
  EXPECT_THROW(clamp_to_range(x, spec), Error);

  ModalitySpec scalar;
  scalar.name = "gray";
  scalar.lower = -0.5;
  scalar.upper = 0.5;
  auto z = clamp_to_range(x, scalar);
  EXPECT_EQ(z.min().item<double>(), -0.5);
  EXPECT_EQ(z.max().item<double>(), 0.5);
}

}  // namespace
}  // namespace crmt
