#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace crmt {

// Tensors to and from .npy files (media/io/npy.h): the dtypes f2, f4, f8, u1, i1, i2, i4, i8 and
// b1 map to Half, Float, Double, Byte, Char, Short, Int, Long and Bool.

// A CPU tensor of the file's dtype and shape. Errors as media's read_npy.
at::Tensor read_npy(const std::string& path);

// Writes `t` (any of the dtypes above, made contiguous on the CPU) as an .npy version 1.0 file,
// atomically.
void write_npy(const std::string& path, const at::Tensor& t);
// The bytes of that file.
std::string encode_npy(const at::Tensor& t);

}  // namespace crmt
