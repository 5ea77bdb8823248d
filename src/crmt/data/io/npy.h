#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace crmt {

// NumPy's .npy format (versions 1.0, 2.0 and 3.0): a magic string, a header dict with 'descr',
// 'fortran_order' and 'shape', then the elements.
struct NpyHeader {
  std::string descr;            // e.g. "<f4"
  std::vector<int64_t> shape;
  bool fortran_order = false;
  int64_t data_offset = 0;      // bytes before the first element
};

// Reads only the header. Throws crmt::Error naming `path`: missing file, not an .npy file,
// malformed header.
NpyHeader read_npy_header(const std::string& path);

// Reads a C-order little-endian array of dtype f2, f4, f8, u1, i1, i2, i4, i8 or b1 as a CPU tensor
// of the same dtype and shape. Throws crmt::Error naming `path` for a missing or truncated file, a
// bad header, Fortran order, big-endian data or an unsupported dtype.
at::Tensor read_npy(const std::string& path);

// Writes `t` (any of the dtypes above, made contiguous) as an .npy version 1.0 file, atomically.
void write_npy(const std::string& path, const at::Tensor& t);
// The bytes of that file.
std::string encode_npy(const at::Tensor& t);

}  // namespace crmt
