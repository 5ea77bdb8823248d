#include "crmt/media/video/optical_flow.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/optflow.hpp>

#include <algorithm>
#include <cmath>

#include "crmt/core/error.h"

namespace crmt {
namespace {

cv::Mat view(const Image& image) {
  return cv::Mat(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
                 const_cast<uint8_t*>(image.pixels.data()));
}

}  // namespace

Image rgb_to_gray(const Image& rgb) {
  if (rgb.channels != 3) fail("rgb_to_gray: expected 3 channels, got {}", rgb.channels);
  Image gray(rgb.height, rgb.width, 1);
  cv::Mat out = view(gray);
  cv::cvtColor(view(rgb), out, cv::COLOR_RGB2GRAY);
  return gray;
}

uint8_t quantize_flow(float f, float bound) {
  // In float32, as NumPy computes it on the float32 flow (255 / 30 = 8.5 is exact in float).
  const float q = std::nearbyint((f + bound) * static_cast<float>(255.0 / (2.0 * bound)));  // half to even
  if (!(q > 0.0f)) return 0;  // also NaN
  return static_cast<uint8_t>(std::min(q, 255.0f));
}

void set_flow_threads(int threads) { cv::setNumThreads(threads); }

struct TvL1Flow::State {
  cv::Ptr<cv::optflow::DualTVL1OpticalFlow> algorithm = cv::optflow::DualTVL1OpticalFlow::create();
  cv::Mat flow;
};

TvL1Flow::TvL1Flow() : state_(std::make_unique<State>()) {}
TvL1Flow::~TvL1Flow() = default;

TvL1Flow::Quantized TvL1Flow::operator()(const Image& previous_gray, const Image& next_gray, float bound) {
  if (previous_gray.channels != 1 || next_gray.channels != 1 || previous_gray.width != next_gray.width ||
      previous_gray.height != next_gray.height)
    fail("TV-L1 flow: two gray frames of the same size expected");
  // The official script creates a new DualTVL1 object for every pair; the algorithm keeps no state
  // between calls unless told to (useInitialFlow is off), so one object per worker is the same.
  state_->algorithm->calc(view(previous_gray), view(next_gray), state_->flow);
  Quantized q{Image(previous_gray.height, previous_gray.width, 1), Image(previous_gray.height, previous_gray.width, 1)};
  for (int y = 0; y < state_->flow.rows; ++y) {
    const auto* row = state_->flow.ptr<cv::Vec2f>(y);
    uint8_t* u = q.u.row(y);
    uint8_t* v = q.v.row(y);
    for (int x = 0; x < state_->flow.cols; ++x) {
      u[x] = quantize_flow(row[x][0], bound);
      v[x] = quantize_flow(row[x][1], bound);
    }
  }
  return q;
}

}  // namespace crmt
