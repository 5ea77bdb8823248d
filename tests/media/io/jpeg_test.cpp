#include "crmt/media/io/jpeg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

// Smooth colour gradients: JPEG keeps them well at high quality.
Image gradient(int h, int w) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(255 * x / (w - 1));
      p[1] = static_cast<uint8_t>(255 * y / (h - 1));
      p[2] = static_cast<uint8_t>(128 + 100 * std::sin(0.1 * (x + y)));
    }
  return img;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / static_cast<double>(a.pixels.size());
}

using test::write_file;

TEST(Jpeg, RoundTripIsClose) {
  auto dir = test::temp_dir("jpeg_roundtrip");
  const auto img = gradient(37, 53);  // not a multiple of the 16-pixel MCU
  const auto path = (dir / "a.jpg").string();
  write_jpeg(path, img, 95);
  auto back = read_jpeg(path, JpegColor::Rgb);
  ASSERT_EQ(back.height, 37);
  ASSERT_EQ(back.width, 53);
  ASSERT_EQ(back.channels, 3);
  EXPECT_LT(mean_abs_diff(img, back), 2.0);
  // Lower quality: still the same picture, but less exact.
  auto low = decode_jpeg(encode_jpeg(img, 20).data(), encode_jpeg(img, 20).size(), JpegColor::Rgb, "mem");
  EXPECT_GT(mean_abs_diff(img, low), mean_abs_diff(img, back));
  EXPECT_LT(mean_abs_diff(img, low), 10.0);
}

TEST(Jpeg, ConvertsBetweenGrayAndRgb) {
  Image gray(24, 40, 1);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 40; ++x) gray.row(y)[x] = static_cast<uint8_t>(6 * x);
  const auto bytes = encode_jpeg(gray, 95);
  auto g = decode_jpeg(bytes.data(), bytes.size(), JpegColor::Gray, "g");
  ASSERT_EQ(g.channels, 1);
  EXPECT_LT(mean_abs_diff(gray, g), 1.5);
  // A gray file read as RGB: three equal channels (PIL's convert('RGB')).
  auto rgb = decode_jpeg(bytes.data(), bytes.size(), JpegColor::Rgb, "g");
  ASSERT_EQ(rgb.channels, 3);
  for (size_t i = 0; i < g.pixels.size(); ++i) {
    ASSERT_EQ(rgb.pixels[3 * i], g.pixels[i]);
    ASSERT_EQ(rgb.pixels[3 * i + 2], g.pixels[i]);
  }
  // A colour file read as gray: the luma 0.299 R + 0.587 G + 0.114 B.
  Image red(16, 16, 3);
  for (size_t i = 0; i < red.pixels.size(); i += 3) red.pixels[i] = 200;
  const auto rb = encode_jpeg(red, 100);
  auto l = decode_jpeg(rb.data(), rb.size(), JpegColor::Gray, "r");
  ASSERT_EQ(l.channels, 1);
  EXPECT_NEAR(l.pixels[8 * 16 + 8], 0.299 * 200, 2.0);
  // Exactly PIL's convert('L') of the decoded RGB: (19595 R + 38470 G + 7471 B + 2^15) >> 16.
  const auto colour = encode_jpeg(gradient(20, 30), 90);
  auto c = decode_jpeg(colour.data(), colour.size(), JpegColor::Rgb, "c");
  auto cl = decode_jpeg(colour.data(), colour.size(), JpegColor::Gray, "c");
  ASSERT_EQ(cl.pixels.size(), c.pixels.size() / 3);
  for (size_t i = 0; i < cl.pixels.size(); ++i) {
    const uint8_t* p = &c.pixels[3 * i];
    ASSERT_EQ(cl.pixels[i], (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16) << i;
  }
}

TEST(Jpeg, BadFilesGiveAnErrorNamingTheFile) {
  auto dir = test::temp_dir("jpeg_errors");
  const auto good = encode_jpeg(gradient(64, 64), 90);
  const std::string bytes(good.begin(), good.end());
  std::string corrupt = bytes;
  for (size_t i = 2; i < 40; ++i) corrupt[i] = '\x55';  // destroys the first markers
  const std::vector<std::pair<std::string, std::string>> cases = {
      {write_file(dir / "empty.jpg", ""), "empty"},
      {write_file(dir / "text.jpg", "definitely not a jpeg"), "not a JPEG"},
      {write_file(dir / "truncated.jpg", bytes.substr(0, bytes.size() / 2)), "corrupt"},
      {write_file(dir / "header_only.jpg", bytes.substr(0, 30)), "corrupt"},
      {write_file(dir / "corrupt.jpg", corrupt), "corrupt"},
      {(dir / "missing.jpg").string(), "cannot open"},
  };
  for (const auto& [path, word] : cases) {
    ::testing::internal::CaptureStderr();  // libjpeg must not print its own warnings
    auto msg = test::error_of([&] { read_jpeg(path, JpegColor::Rgb); });
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    EXPECT_NE(msg.find(path), std::string::npos) << path << ": " << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << path << ": " << msg;
  }
}

TEST(Jpeg, RejectsImagesItCannotEncode) {
  EXPECT_NE(test::error_of([] { encode_jpeg(Image(4, 4, 2)); }), "");
  EXPECT_NE(test::error_of([] { encode_jpeg(Image(4, 4, 3), 0); }), "");
  EXPECT_NE(test::error_of([] { encode_jpeg(Image()); }), "");
}

}  // namespace
}  // namespace crmt
