#include "crmt/media/image/image_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "crmt/core/error.h"

namespace crmt {

namespace {

// Pillow's 8-bit resampling keeps coefficients as fixed point with 22 fractional bits, so that
// 255 * (sum of weights) plus rounding fits an int32. Matching it makes our pixels equal to PIL's.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// The taps of one resampling direction: output i reads `count[i]` inputs from `first[i]` with the
// weights weights[i * ksize ...].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter: the support
// widens with the downscaling factor so that every input pixel contributes (antialiasing).
Taps make_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<size_t>(out_size));
  t.count.resize(static_cast<size_t>(out_size));
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> w(static_cast<size_t>(t.ksize));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // Pillow truncates (int) after adding 0.5; the clamp makes the sign of the truncation moot.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = hi - lo;
    double total = 0;
    for (int k = 0; k < n; ++k) total += w[static_cast<size_t>(k)] = triangle((k + lo - center + 0.5) / filter_scale);
    int32_t* dst = &t.weights[static_cast<size_t>(i) * t.ksize];
    for (int k = 0; k < n; ++k) {
      const double v = total != 0.0 ? w[static_cast<size_t>(k)] / total : 0.0;
      dst[k] = static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    t.first[static_cast<size_t>(i)] = lo;
    t.count[static_cast<size_t>(i)] = n;
  }
  return t;
}

inline uint8_t clip8(int32_t v) {
  if (v <= 0) return 0;
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v > 255 ? 255 : v);
}

// A read-only window of rows (a crop without a copy).
struct View {
  const uint8_t* data;
  size_t stride;  // bytes between rows
  const uint8_t* row(int y) const { return data + static_cast<size_t>(y) * stride; }
};

template <int C>
void horizontal_row(const uint8_t* in, uint8_t* out, const Taps& t, int out_w, int channels) {
  const int ch = C > 0 ? C : channels;
  for (int x = 0; x < out_w; ++x) {
    const int32_t* w = &t.weights[static_cast<size_t>(x) * t.ksize];
    const uint8_t* p = in + static_cast<size_t>(t.first[static_cast<size_t>(x)]) * ch;
    const int n = t.count[static_cast<size_t>(x)];
    if constexpr (C == 3) {  // the common case: one pass over the taps for all three channels
      int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      for (int k = 0; k < n; ++k, p += 3) s0 += p[0] * w[k], s1 += p[1] * w[k], s2 += p[2] * w[k];
      out[3 * x] = clip8(s0), out[3 * x + 1] = clip8(s1), out[3 * x + 2] = clip8(s2);
      continue;
    }
    for (int c = 0; c < ch; ++c) {
      int32_t s = kHalf;
      for (int k = 0; k < n; ++k) s += p[k * ch + c] * w[k];
      out[x * ch + c] = clip8(s);
    }
  }
}

// Horizontal pass over input rows [y0, y0 + rows) into a packed image of out_w columns.
void horizontal_pass(const View& in, int y0, int rows, int channels, const Taps& t, int out_w, Image& out) {
  out = Image(rows, out_w, channels);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in.row(y0 + y);
    uint8_t* dst = out.row(y);
    if (channels == 3) horizontal_row<3>(src, dst, t, out_w, 3);
    else if (channels == 1) horizontal_row<1>(src, dst, t, out_w, 1);
    else horizontal_row<0>(src, dst, t, out_w, channels);
  }
}

// Vertical pass: each output row is a weighted sum of whole input rows (vectorises well).
void vertical_pass(const View& in, int y_offset, int row_bytes, const Taps& t, Image& out) {
  std::vector<int32_t> acc(static_cast<size_t>(row_bytes));
  for (int y = 0; y < out.height; ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* w = &t.weights[static_cast<size_t>(y) * t.ksize];
    const int first = t.first[static_cast<size_t>(y)] - y_offset;
    for (int k = 0; k < t.count[static_cast<size_t>(y)]; ++k) {
      const uint8_t* src = in.row(first + k);
      const int32_t wk = w[k];
      int32_t* a = acc.data();
      for (int i = 0; i < row_bytes; ++i) a[i] += src[i] * wk;
    }
    uint8_t* dst = out.row(y);
    for (int i = 0; i < row_bytes; ++i) dst[i] = clip8(acc[static_cast<size_t>(i)]);
  }
}

void check_image(const Image& src, const char* what) {
  if (src.height <= 0 || src.width <= 0 || src.channels <= 0 ||
      src.pixels.size() != static_cast<size_t>(src.height) * src.width * src.channels)
    fail("{}: bad image ({}x{}x{} with {} bytes)", what, src.height, src.width, src.channels, src.pixels.size());
}

void check_box(const Image& src, const CropBox& box, const char* what) {
  if (box.height <= 0 || box.width <= 0 || box.top < 0 || box.left < 0 || box.top + box.height > src.height ||
      box.left + box.width > src.width)
    fail("{}: crop box (top {}, left {}, {}x{}) is not inside the {}x{} image", what, box.top, box.left, box.height,
         box.width, src.height, src.width);
}

}  // namespace

Image resized_crop(const Image& src, const CropBox& box, int out_h, int out_w) {
  check_image(src, "resized_crop");
  check_box(src, box, "resized_crop");
  if (out_h <= 0 || out_w <= 0) fail("resized_crop: output size {}x{} must be positive", out_h, out_w);
  const int ch = src.channels;
  const View crop_view{src.row(box.top) + static_cast<size_t>(box.left) * ch, static_cast<size_t>(src.width) * ch};
  const bool need_h = out_w != box.width, need_v = out_h != box.height;
  if (!need_h && !need_v) return crop(src, box);
  const Taps tv = make_taps(box.height, out_h);
  if (!need_v) {
    Image out;
    horizontal_pass(crop_view, 0, box.height, ch, make_taps(box.width, out_w), out_w, out);
    return out;
  }
  // Like Pillow, the horizontal pass only covers the rows that the vertical pass reads.
  const int y_first = tv.first.front();
  const int y_last = tv.first.back() + tv.count.back();
  Image tmp;
  View vin = crop_view;
  int y_offset = 0;
  if (need_h) {
    horizontal_pass(crop_view, y_first, y_last - y_first, ch, make_taps(box.width, out_w), out_w, tmp);
    vin = View{tmp.pixels.data(), static_cast<size_t>(out_w) * ch};
    y_offset = y_first;
  }
  Image out(out_h, out_w, ch);
  vertical_pass(vin, y_offset, out_w * ch, tv, out);
  return out;
}

Image resize_bilinear(const Image& src, int out_h, int out_w) {
  return resized_crop(src, CropBox{0, 0, src.height, src.width}, out_h, out_w);
}

Image crop(const Image& src, const CropBox& box) {
  check_image(src, "crop");
  check_box(src, box, "crop");
  Image out(box.height, box.width, src.channels);
  const size_t bytes = static_cast<size_t>(box.width) * src.channels;
  for (int y = 0; y < box.height; ++y)
    std::memcpy(out.row(y), src.row(box.top + y) + static_cast<size_t>(box.left) * src.channels, bytes);
  return out;
}

Image flip_horizontal(const Image& src) {
  check_image(src, "flip_horizontal");
  Image out(src.height, src.width, src.channels);
  const int ch = src.channels;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* in = src.row(y);
    uint8_t* o = out.row(y);
    for (int x = 0; x < src.width; ++x) std::memcpy(o + x * ch, in + (src.width - 1 - x) * ch, static_cast<size_t>(ch));
  }
  return out;
}

CropBox random_resized_crop_box(int height, int width, std::mt19937_64& rng, std::array<double, 2> scale,
                                std::array<double, 2> ratio) {
  if (height <= 0 || width <= 0) fail("random_resized_crop_box: image size {}x{} must be positive", height, width);
  if (!(scale[0] <= scale[1]) || !(ratio[0] <= ratio[1]) || scale[0] < 0 || ratio[0] <= 0)
    fail("random_resized_crop_box: need 0 <= scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1] (got [{}, {}], [{}, {}])",
         scale[0], scale[1], ratio[0], ratio[1]);
  const double area = static_cast<double>(height) * width;
  std::uniform_real_distribution<double> area_share(scale[0], scale[1]);
  std::uniform_real_distribution<double> log_ratio(std::log(ratio[0]), std::log(ratio[1]));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * area_share(rng);
    const double aspect = std::exp(log_ratio(rng));
    // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int top = std::uniform_int_distribution<int>(0, height - h)(rng);
      const int left = std::uniform_int_distribution<int>(0, width - w)(rng);
      return CropBox{top, left, h, w};
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio[0]) h = static_cast<int>(std::nearbyint(w / ratio[0]));
  else if (in_ratio > ratio[1]) w = static_cast<int>(std::nearbyint(h * ratio[1]));
  return CropBox{(height - h) / 2, (width - w) / 2, h, w};
}

void to_normalized_planes(const Image& image, const float* mean, const float* std, float* out) {
  check_image(image, "to_normalized_planes");
  const int ch = image.channels;
  // One table per channel: the same float operations as ToTensor (x / 255) and Normalize ((x - m) / s).
  std::vector<float> lut(static_cast<size_t>(256) * ch);
  for (int c = 0; c < ch; ++c) {
    if (!(std[c] != 0.0f)) fail("to_normalized_planes: std of channel {} is {}", c, std[c]);
    for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(c) * 256 + v] = (static_cast<float>(v) / 255.0f - mean[c]) / std[c];
  }
  const size_t plane = static_cast<size_t>(image.height) * image.width;
  const uint8_t* p = image.pixels.data();
  if (ch == 3) {
    const float *l0 = lut.data(), *l1 = l0 + 256, *l2 = l1 + 256;
    float *o0 = out, *o1 = out + plane, *o2 = out + 2 * plane;
    for (size_t i = 0; i < plane; ++i, p += 3) o0[i] = l0[p[0]], o1[i] = l1[p[1]], o2[i] = l2[p[2]];
    return;
  }
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < ch; ++c) out[static_cast<size_t>(c) * plane + i] = lut[static_cast<size_t>(c) * 256 + p[i * ch + c]];
}

}  // namespace crmt
