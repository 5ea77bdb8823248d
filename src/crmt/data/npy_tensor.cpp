#include "crmt/data/npy_tensor.h"

#include <ATen/ATen.h>
#include <c10/util/ArrayRef.h>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"
#include "crmt/media/io/npy.h"

namespace crmt {

namespace {

struct DtypePair {
  NpyDtype npy;
  at::ScalarType torch;
};

constexpr DtypePair kPairs[] = {
    {NpyDtype::f2, at::kHalf}, {NpyDtype::f4, at::kFloat}, {NpyDtype::f8, at::kDouble},
    {NpyDtype::u1, at::kByte}, {NpyDtype::i1, at::kChar},  {NpyDtype::i2, at::kShort},
    {NpyDtype::i4, at::kInt},  {NpyDtype::i8, at::kLong},  {NpyDtype::b1, at::kBool},
};

at::ScalarType torch_type(NpyDtype type) {
  for (const auto& p : kPairs)
    if (p.npy == type) return p.torch;
  fail("npy: unknown dtype {}", static_cast<int>(type));
}

NpyDtype npy_type(at::ScalarType type) {
  for (const auto& p : kPairs)
    if (p.torch == type) return p.npy;
  fail("write_npy: unsupported dtype {}", c10::toString(type));
}

}  // namespace

at::Tensor read_npy(const std::string& path) {
  at::Tensor out;
  read_npy(path, [&](NpyDtype type, const std::vector<int64_t>& shape) {
    out = at::empty(shape, at::TensorOptions().dtype(torch_type(type)));
    return out.data_ptr();
  });
  return out;
}

std::string encode_npy(const at::Tensor& t) {
  const auto c = t.to(at::kCPU).contiguous();
  return encode_npy(npy_type(c.scalar_type()), c.sizes().vec(), c.data_ptr());
}

void write_npy(const std::string& path, const at::Tensor& t) { write_file_atomically(path, encode_npy(t)); }

}  // namespace crmt
