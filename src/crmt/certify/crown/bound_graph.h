#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace crmt {

class EncoderImpl;

// One node of an encoder's computation graph as bound propagation sees it (float64, evaluation
// mode): affine (Linear, Conv2d, eval-mode BatchNorm2d, average pooling, Flatten, a ResNet's mean
// over space and frames), the sum of two nodes (a residual connection), or one of the two
// nonlinearities CROWN relaxes (ReLU, MaxPool2d). Shapes exclude the batch. Image layers act on
// the last three dimensions ([C, H, W]); leading ones (a clip's frames) are carried along.
struct BoundLayer {
  enum class Kind { Affine, Add, Relu, MaxPool };
  Kind kind = Kind::Affine;
  std::string name;  // "Conv2d (layer 0)", "layer1.0.conv1 (Conv2d)" for messages
  // The nodes this one reads: earlier indices, or -1 for the encoder's input. One, or two for Add.
  std::vector<int64_t> inputs;
  std::vector<int64_t> in_shape, out_shape;

  // Affine: y = L x + offset. `apply` maps a batch [N, *in] to [N, *out] with the offset,
  // `transpose` maps coefficients on the output [S, *out] to the input [S, *in] (L^T, no offset),
  // `apply_abs` maps a batch through |L| (no offset: interval radii). `apply_square` (optional)
  // maps through L with every entry squared; `diagonal`: L is diagonal (batch norm), so that a
  // product with one non-diagonal map squares entrywise as the product of the squares.
  std::function<at::Tensor(const at::Tensor&)> apply, transpose, apply_abs, apply_square;
  bool diagonal = false;
  at::Tensor offset;  // [*out]

  // MaxPool2d
  int64_t kernel = 0, stride = 0, padding = 0;

  bool nonlinear() const { return kind == Kind::Relu || kind == Kind::MaxPool; }
};

// {n, shape...}: a batch of n of the given per-sample shape.
inline std::vector<int64_t> batch_of(int64_t n, const std::vector<int64_t>& shape) {
  std::vector<int64_t> out{n};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

// The graph of an encoder for inputs of `input_shape`, its nodes in evaluation order, the last one
// the encoder's output: the chain of a Sequential body (MLP, small CNN) or a ResNet's stem and
// BasicBlocks with their residual connections. Throws crmt::Error naming every layer it cannot
// bound (type and position) and the encoders that are neither (transformers).
std::vector<BoundLayer> bound_graph(EncoderImpl& encoder, const std::vector<int64_t>& input_shape);

// A MaxPool2d node applied to a batch [N, *in_shape] (the leading dimensions folded as images).
at::Tensor max_pool(const at::Tensor& x, const BoundLayer& pool);

// The value of node `node` (default: the output) for a batch x [N, *input_shape] (float64), the
// graph evaluated node by node (it computes what the encoder does).
at::Tensor evaluate(const std::vector<BoundLayer>& graph, const at::Tensor& x, int64_t node = -1);

}  // namespace crmt
