#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace crmt {

class EncoderImpl;

// One layer of an encoder as bound propagation sees it (float64, evaluation mode): either affine
// (Linear, Conv2d, eval-mode BatchNorm2d, average pooling, Flatten, Identity, Dropout) or one of the
// two nonlinearities CROWN relaxes (ReLU, MaxPool2d). Shapes exclude the batch.
struct BoundLayer {
  enum class Kind { Affine, Relu, MaxPool };
  Kind kind = Kind::Affine;
  std::string name;  // "Conv2d (layer 0)" for messages
  std::vector<int64_t> in_shape, out_shape;

  // Affine: y = L x + offset. `apply` maps a batch [N, *in] to [N, *out] with the offset,
  // `transpose` maps coefficients on the output [S, *out] to the input [S, *in] (L^T, no offset),
  // `apply_abs` maps a batch through |L| (no offset: interval radii).
  std::function<at::Tensor(const at::Tensor&)> apply, transpose, apply_abs;
  at::Tensor offset;  // [*out]

  // MaxPool2d
  int64_t kernel = 0, stride = 0, padding = 0;
};

// {n, shape...}: a batch of n of the given per-sample shape.
inline std::vector<int64_t> batch_of(int64_t n, const std::vector<int64_t>& shape) {
  std::vector<int64_t> out{n};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

// The chain of an encoder whose forward is its Sequential body (MLP, small CNN), each layer with
// its shapes for inputs of `input_shape`. Throws crmt::Error naming every layer it cannot bound
// (type and position) and the encoder kinds that are no chain (ResNet, transformers).
std::vector<BoundLayer> bound_chain(EncoderImpl& encoder, const std::vector<int64_t>& input_shape);

}  // namespace crmt
