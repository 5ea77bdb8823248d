#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crmt {

// An idx file (the MNIST / Fashion-MNIST format): big-endian magic 0x0000TTDD (TT = element type,
// DD = number of dimensions), DD big-endian uint32 dimension sizes, then the elements, row-major.
// Only unsigned-byte elements (TT = 0x08), the only type the MNIST family uses, are supported.
struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // product(shape) bytes

  int64_t numel() const;
};

// Reads a gzip-compressed (or plain: zlib reads both) idx file of unsigned bytes. When
// `expected_dims` is non-negative the file must have exactly that many dimensions. Throws crmt::Error
// naming `path` and what was wrong: missing file, bad magic, unsupported element type, wrong number
// of dimensions, truncated header or data, trailing bytes. With `max_items` >= 0 only the first
// max_items entries along the first dimension are read (shape[0] becomes min(shape[0], max_items))
// and the rest of the file is not checked.
IdxArray read_idx(const std::string& path, int expected_dims = -1, int64_t max_items = -1);

// Writes `array` as a gzip-compressed idx file (used by tests and tools to make small idx files).
void write_idx_gz(const std::string& path, const IdxArray& array);

}  // namespace crmt
