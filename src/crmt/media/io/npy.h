#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace crmt {

// NumPy's .npy format (versions 1.0, 2.0 and 3.0): a magic string, a header dict with 'descr',
// 'fortran_order' and 'shape', then the elements. Plain bytes here; data/npy_tensor.h reads and
// writes tensors through it.
struct NpyHeader {
  std::string descr;            // e.g. "<f4"
  std::vector<int64_t> shape;
  bool fortran_order = false;
  int64_t data_offset = 0;      // bytes before the first element
};

// The element types crmt reads and writes, little-endian.
enum class NpyDtype { f2, f4, f8, u1, i1, i2, i4, i8, b1 };
size_t npy_element_size(NpyDtype type);

// Reads only the header. Throws crmt::Error naming `path`: missing file, not an .npy file,
// malformed header.
NpyHeader read_npy_header(const std::string& path);

// Gives the destination of the elements: room for the product of `shape` elements of `type`.
using NpyAllocator = std::function<void*(NpyDtype type, const std::vector<int64_t>& shape)>;

// Reads a C-order little-endian array of dtype f2, f4, f8, u1, i1, i2, i4, i8 or b1 into the
// memory `allocate` returns (called once, after the file is known to hold every element). Throws
// crmt::Error naming `path` for a missing or truncated file, a bad header, Fortran order,
// big-endian data or an unsupported dtype.
void read_npy(const std::string& path, const NpyAllocator& allocate);

// The bytes of an .npy version 1.0 file holding the C-order elements at `data`.
std::string encode_npy(NpyDtype type, const std::vector<int64_t>& shape, const void* data);

}  // namespace crmt
