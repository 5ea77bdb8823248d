#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crmt/media/image/image.h"

namespace crmt {

// JPEG reading and writing with libjpeg-turbo.
enum class JpegColor {
  Rgb,   // 3 channels; gray files are expanded (as PIL's convert('RGB'))
  Gray,  // 1 channel; colour files are converted (as PIL's convert('L'))
};

// Decodes the JPEG file at `path`. Throws crmt::Error naming the file when it is missing, empty,
// not a JPEG or corrupt (libjpeg's message is included); never aborts the process.
Image read_jpeg(const std::string& path, JpegColor color);
// The same for bytes in memory; `name` is used in error messages.
Image decode_jpeg(const uint8_t* data, size_t size, JpegColor color, const std::string& name);

// Encodes a 1- or 3-channel image with the given quality (1..100).
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 95);
// Encodes and writes atomically.
void write_jpeg(const std::string& path, const Image& image, int quality = 95);

}  // namespace crmt
