#pragma once
#include <array>
#include <cstdint>
#include <random>

#include "crmt/media/image/image.h"

namespace crmt {

// Geometric and colour operations on 8-bit images, matching what torchvision's transforms do to PIL
// images, so that a model trained by the official Python code sees the same pixels here.

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// Resizes to out_h x out_w like PIL's Image.resize(..., BILINEAR): a triangle filter whose support
// grows with the downscaling factor (antialiasing), separable, rounded back to 8 bits. When `box` is
// given, only that region of `src` is resampled (PIL's crop-then-resize, without a copy).
Image resize_bilinear(const Image& src, int out_h, int out_w);
Image resized_crop(const Image& src, const CropBox& box, int out_h, int out_w);

Image crop(const Image& src, const CropBox& box);
Image flip_horizontal(const Image& src);

// torchvision's RandomResizedCrop.get_params: up to 10 tries of an area share in `scale` and a
// log-uniform aspect ratio in `ratio`, else the central crop with the ratio clamped.
CropBox random_resized_crop_box(int height, int width, std::mt19937_64& rng, std::array<double, 2> scale = {0.08, 1.0},
                                std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});

// Writes the image as float planes (channel-major, C x H x W) of (pixel / 255 - mean[c]) / std[c]
// into `out`, which must hold channels * height * width floats (ToTensor + Normalize).
void to_normalized_planes(const Image& image, const float* mean, const float* std, float* out);

}  // namespace crmt
