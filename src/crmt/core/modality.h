#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace crmt {

// What the library knows about one input modality. Inputs live in the model's normalized space;
// [lower, upper] is the valid range there (infinite for modalities without one, e.g. log-mel
// spectrograms), and attacks clamp to it. Frames normalized per channel (ImageNet mean/std) have
// one range per channel instead: channel_lower/channel_upper, one entry per channel C of the
// per-sample shape's third-from-last axis ([C, H, W] or [T, C, H, W]); when set they replace the
// scalar range.
struct ModalitySpec {
  std::string name;
  std::vector<int64_t> shape;  // per-sample shape, e.g. {1, 28, 28}
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();
  std::vector<double> channel_lower{}, channel_upper{};  // per-channel range; empty = the scalar one

  bool per_channel() const { return !channel_lower.empty() || !channel_upper.empty(); }
  bool bounded() const {
    return per_channel() || lower > -std::numeric_limits<double>::infinity() ||
           upper < std::numeric_limits<double>::infinity();
  }
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

using ModalitySpecs = std::vector<ModalitySpec>;

}  // namespace crmt
