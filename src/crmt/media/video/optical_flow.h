#pragma once
#include <cstdint>
#include <memory>

#include "crmt/media/image/image.h"

namespace crmt {

// 8-bit gray as OpenCV's cvtColor(RGB2GRAY): (4899 R + 9617 G + 1868 B + 2^13) >> 14.
Image rgb_to_gray(const Image& rgb);

// The flow quantisation of CRMT's extract_rgb_of.py: clamp(np.round((f + bound) * 255 / (2 bound)),
// 0, 255), halves rounded to even.
uint8_t quantize_flow(float f, float bound = 15.0f);

// OpenCV's worker threads (TV-L1 parallelises over image rows); 1 when clips run in parallel.
void set_flow_threads(int threads);

// TV-L1 optical flow between consecutive gray frames (OpenCV contrib's DualTVL1OpticalFlow with
// all its defaults, as the official script creates it), quantised: u (horizontal) and v (vertical)
// as two gray images of the frames' size.
class TvL1Flow {
 public:
  TvL1Flow();
  ~TvL1Flow();
  struct Quantized {
    Image u, v;
  };
  Quantized operator()(const Image& previous_gray, const Image& next_gray, float bound = 15.0f);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmt
