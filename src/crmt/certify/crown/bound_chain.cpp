#include "crmt/certify/crown/bound_chain.h"

#include <torch/torch.h>

#include <optional>
#include <variant>

#include "crmt/certify/layer_bounds.h"
#include "crmt/core/error.h"
#include "crmt/models/encoder.h"

namespace crmt {

namespace nn = torch::nn;

namespace {

at::Tensor offset_of(const BoundLayer& layer) {
  return layer.apply(torch::zeros(batch_of(1, layer.in_shape), torch::kDouble)).squeeze(0);
}

BoundLayer linear_layer(nn::LinearImpl& lin) {
  BoundLayer b;
  const auto w = lin.weight.detach().to(torch::kDouble);
  const auto bias = lin.bias.defined() ? lin.bias.detach().to(torch::kDouble) : at::Tensor();
  b.apply = [w, bias](const at::Tensor& x) { return at::linear(x, w, bias); };
  b.transpose = [w](const at::Tensor& a) { return a.matmul(w); };
  b.apply_abs = [aw = w.abs()](const at::Tensor& x) { return at::linear(x, aw); };
  return b;
}

BoundLayer conv2d_layer(nn::Conv2dImpl& conv, const std::vector<int64_t>& in_shape) {
  const auto& o = conv.options;
  using std::holds_alternative;  // and c10's, by argument-dependent lookup (LibTorch 1.x)
  if (!holds_alternative<torch::enumtype::kZeros>(o.padding_mode()) ||
      !holds_alternative<torch::ExpandingArray<2>>(o.padding()))
    fail("only zero-padded Conv2d layers with explicit padding are supported");
  using std::get;
  const auto pad = get<torch::ExpandingArray<2>>(o.padding());
  const std::vector<int64_t> stride(o.stride()->begin(), o.stride()->end()), padding(pad->begin(), pad->end()),
      dilation(o.dilation()->begin(), o.dilation()->end());
  const int64_t groups = o.groups();
  const auto w = conv.weight.detach().to(torch::kDouble);
  const auto bias = conv.bias.defined() ? conv.bias.detach().to(torch::kDouble) : at::Tensor();
  BoundLayer b;
  b.apply = [=](const at::Tensor& x) { return at::conv2d(x, w, bias, stride, padding, dilation, groups); };
  // conv_transpose2d's output_padding makes its output the input's size again.
  const std::vector<int64_t> in_hw{in_shape[1], in_shape[2]};
  b.transpose = [=](const at::Tensor& a) {
    std::vector<int64_t> extra(2);
    for (int d = 0; d < 2; ++d)
      extra[d] = in_hw[d] - ((a.size(2 + d) - 1) * stride[d] - 2 * padding[d] + dilation[d] * (w.size(2 + d) - 1) + 1);
    return at::conv_transpose2d(a, w, {}, stride, padding, extra, groups, dilation);
  };
  b.apply_abs = [=, aw = w.abs()](const at::Tensor& x) { return at::conv2d(x, aw, {}, stride, padding, dilation, groups); };
  return b;
}

BoundLayer batchnorm2d_layer(nn::BatchNorm2dImpl& bn) {
  const auto& o = bn.options;
  if (!o.track_running_stats()) fail("BatchNorm2d without running statistics cannot be bounded");
  auto scale = (bn.running_var.detach().to(torch::kDouble) + o.eps()).rsqrt();
  if (o.affine()) scale = scale * bn.weight.detach().to(torch::kDouble);
  auto shift = -bn.running_mean.detach().to(torch::kDouble) * scale;
  if (o.affine()) shift = shift + bn.bias.detach().to(torch::kDouble);
  scale = scale.view({-1, 1, 1});
  shift = shift.view({-1, 1, 1});
  BoundLayer b;
  b.apply = [scale, shift](const at::Tensor& x) { return x * scale + shift; };
  b.transpose = [scale](const at::Tensor& a) { return a * scale; };
  b.apply_abs = [s = scale.abs()](const at::Tensor& x) { return x * s; };
  return b;
}

// Average pooling is linear with nonnegative weights (|L| = L); its transpose is its backward.
BoundLayer avgpool2d_layer(nn::AvgPool2dImpl& pool, const std::vector<int64_t>& in_shape) {
  const auto& o = pool.options;
  const std::vector<int64_t> k(o.kernel_size()->begin(), o.kernel_size()->end()),
      s(o.stride()->begin(), o.stride()->end()), p(o.padding()->begin(), o.padding()->end());
  const bool ceil = o.ceil_mode(), include_pad = o.count_include_pad();
  const auto divisor = o.divisor_override();
  BoundLayer b;
  b.apply = [=](const at::Tensor& x) { return at::avg_pool2d(x, k, s, p, ceil, include_pad, divisor); };
  b.transpose = [=](const at::Tensor& a) {
    const auto like = at::empty(batch_of(a.size(0), in_shape), a.options());
    return at::avg_pool2d_backward(a, like, k, s, p, ceil, include_pad, divisor);
  };
  b.apply_abs = b.apply;
  return b;
}

BoundLayer adaptive_avgpool2d_layer(nn::AdaptiveAvgPool2dImpl& pool, const std::vector<int64_t>& in_shape) {
  std::vector<int64_t> size;
  for (const auto& d : *pool.options.output_size()) {
    if (!d) fail("AdaptiveAvgPool2d with an open output size cannot be bounded");
    size.push_back(*d);
  }
  BoundLayer b;
  b.apply = [size](const at::Tensor& x) { return at::adaptive_avg_pool2d(x, size); };
  b.transpose = [in_shape](const at::Tensor& a) {
    return at::_adaptive_avg_pool2d_backward(a, at::empty(batch_of(a.size(0), in_shape), a.options()));
  };
  b.apply_abs = b.apply;
  return b;
}

BoundLayer flatten_layer(const std::vector<int64_t>& in_shape) {
  BoundLayer b;
  b.apply = [](const at::Tensor& x) { return x.flatten(1); };
  b.transpose = [in_shape](const at::Tensor& a) { return a.reshape(batch_of(a.size(0), in_shape)); };
  b.apply_abs = b.apply;
  return b;
}

BoundLayer maxpool2d_layer(nn::MaxPool2dImpl& pool) {
  const auto& o = pool.options;
  auto square = [](const torch::ExpandingArray<2>& a, const char* what) {
    if ((*a)[0] != (*a)[1]) fail("MaxPool2d with a non-square {} is not supported", what);
    return (*a)[0];
  };
  BoundLayer b;
  b.kind = BoundLayer::Kind::MaxPool;
  b.kernel = square(o.kernel_size(), "kernel");
  b.stride = square(o.stride(), "stride");
  b.padding = square(o.padding(), "padding");
  if (square(o.dilation(), "dilation") != 1 || o.ceil_mode()) fail("MaxPool2d with dilation or ceil_mode is not supported");
  return b;
}

// The entry for one layer, or nullopt for layers that are the identity in evaluation mode.
std::optional<BoundLayer> layer_of(nn::Module& layer, const std::vector<int64_t>& in_shape) {
  if (auto* l = dynamic_cast<nn::LinearImpl*>(&layer)) return linear_layer(*l);
  if (auto* l = dynamic_cast<nn::Conv2dImpl*>(&layer)) return conv2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::BatchNorm2dImpl*>(&layer)) return batchnorm2d_layer(*l);  // torch's or crmt's
  if (auto* l = dynamic_cast<nn::AvgPool2dImpl*>(&layer)) return avgpool2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::AdaptiveAvgPool2dImpl*>(&layer)) return adaptive_avgpool2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::MaxPool2dImpl*>(&layer)) return maxpool2d_layer(*l);
  if (dynamic_cast<nn::FlattenImpl*>(&layer)) return flatten_layer(in_shape);
  if (dynamic_cast<nn::ReLUImpl*>(&layer)) {
    BoundLayer b;
    b.kind = BoundLayer::Kind::Relu;
    return b;
  }
  if (dynamic_cast<nn::IdentityImpl*>(&layer) || dynamic_cast<nn::DropoutImpl*>(&layer)) return std::nullopt;
  throw std::invalid_argument("no bound");
}

std::shared_ptr<nn::SequentialImpl> body_of(EncoderImpl& encoder) {
  for (const auto& child : encoder.named_children())
    if (child.key() == "body") return std::dynamic_pointer_cast<nn::SequentialImpl>(child.value());
  return nullptr;
}

}  // namespace

std::vector<BoundLayer> bound_chain(EncoderImpl& encoder, const std::vector<int64_t>& input_shape) {
  const auto body = body_of(encoder);
  if (!body)
    fail("bound propagation supports encoders that are a chain of layers (mlp, small_cnn); encoder '{}' is not "
         "one (residual blocks and attention are not bounded yet)",
         encoder.kind());
  torch::NoGradGuard no_grad;
  std::vector<BoundLayer> chain;
  std::vector<std::string> unsupported;
  auto shape = input_shape;
  size_t index = 0;
  for (auto& any : *body) {
    auto& layer = *any.ptr();
    const std::string name = fmt::format("{} (layer {})", layer_type_name(layer), index++);
    try {
      auto bound = layer_of(layer, shape);
      if (!bound) continue;
      bound->name = name;
      bound->in_shape = shape;
      if (bound->kind == BoundLayer::Kind::Affine) {
        bound->offset = offset_of(*bound);
        bound->out_shape = bound->offset.sizes().vec();
      } else if (bound->kind == BoundLayer::Kind::Relu) {
        bound->out_shape = shape;
      } else {
        const auto probe = at::max_pool2d(torch::zeros(batch_of(1, shape), torch::kDouble), bound->kernel,
                                          bound->stride, bound->padding);
        bound->out_shape = probe.squeeze(0).sizes().vec();
      }
      shape = bound->out_shape;
      chain.push_back(std::move(*bound));
    } catch (const std::invalid_argument&) {
      unsupported.push_back(name);
    } catch (const Error& e) {
      unsupported.push_back(fmt::format("{}: {}", name, e.what()));
    }
  }
  if (!unsupported.empty())
    fail("bound propagation cannot bound encoder '{}': {} (bounded: Linear, Conv2d, BatchNorm2d, ReLU, MaxPool2d, "
         "AvgPool2d, AdaptiveAvgPool2d, Flatten, Identity, Dropout)",
         encoder.kind(), fmt::join(unsupported, "; "));
  return chain;
}

}  // namespace crmt
