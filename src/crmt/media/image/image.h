#pragma once
#include <cstdint>
#include <vector>

namespace crmt {

// An 8-bit image, rows of interleaved channels (HWC): 3 channels for RGB, 1 for gray (flow u / v).
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels

  Image() = default;
  Image(int h, int w, int c) : height(h), width(w), channels(c), pixels(static_cast<size_t>(h) * w * c) {}
  bool empty() const { return pixels.empty(); }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * channels; }
};

}  // namespace crmt
