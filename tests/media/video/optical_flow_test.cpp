// TV-L1 flow and its quantisation as CRMT's extract_rgb_of.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "crmt/media/video/optical_flow.h"

namespace crmt {
namespace {

TEST(QuantizeFlow, OfficialFormulaWithHalvesToEvenAndSaturation) {
  EXPECT_EQ(quantize_flow(0.0f), 128);    // 127.5 -> 128 (even)
  EXPECT_EQ(quantize_flow(15.0f), 255);
  EXPECT_EQ(quantize_flow(40.0f), 255);
  EXPECT_EQ(quantize_flow(-15.0f), 0);
  EXPECT_EQ(quantize_flow(-40.0f), 0);
  EXPECT_EQ(quantize_flow(1.0f), 136);    // 16 * 8.5 = 136
  EXPECT_EQ(quantize_flow(-1.0f), 119);   // 14 * 8.5 = 119
  EXPECT_EQ(quantize_flow(0.1f), 128);    // 128.35
  EXPECT_EQ(quantize_flow(0.2f), 129);    // 129.2
}

TEST(RgbToGray, OpenCvWeights) {
  Image rgb(1, 3, 3);
  const uint8_t px[] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
  std::copy(std::begin(px), std::end(px), rgb.pixels.begin());
  const auto g = rgb_to_gray(rgb);
  EXPECT_EQ(g.pixels[0], 76);   // 0.299 * 255
  EXPECT_EQ(g.pixels[1], 150);  // 0.587 * 255
  EXPECT_EQ(g.pixels[2], 29);   // 0.114 * 255
}

// A smooth texture shifted by (dx, dy) pixels: TV-L1 recovers the motion inside the frame.
TEST(TvL1Flow, RecoversAKnownTranslation) {
  const int w = 96, h = 72, dx = 3, dy = -2;
  auto texture = [](double x, double y) {
    return 128 + 60 * std::sin(x * 0.31) * std::cos(y * 0.23) + 40 * std::sin((x + 2 * y) * 0.11);
  };
  Image a(h, w, 1), b(h, w, 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      a.row(y)[x] = static_cast<uint8_t>(std::lround(texture(x, y)));
      b.row(y)[x] = static_cast<uint8_t>(std::lround(texture(x - dx, y - dy)));  // moved by (dx, dy)
    }
  TvL1Flow flow;
  const auto q = flow(a, b);
  std::vector<int> us, vs;
  for (int y = 12; y < h - 12; ++y)
    for (int x = 12; x < w - 12; ++x) us.push_back(q.u.row(y)[x]), vs.push_back(q.v.row(y)[x]);
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  std::nth_element(vs.begin(), vs.begin() + vs.size() / 2, vs.end());
  EXPECT_NEAR(us[us.size() / 2], quantize_flow(dx), 3);
  EXPECT_NEAR(vs[vs.size() / 2], quantize_flow(dy), 3);
  // the same pair gives the same field (no state kept between calls)
  const auto again = flow(a, b);
  EXPECT_EQ(again.u.pixels, q.u.pixels);
  EXPECT_EQ(again.v.pixels, q.v.pixels);
}

}  // namespace
}  // namespace crmt
