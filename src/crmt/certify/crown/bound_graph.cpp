#include "crmt/certify/crown/bound_graph.h"

#include <torch/torch.h>

#include <optional>
#include <variant>

#include "crmt/certify/layer_bounds.h"
#include "crmt/core/error.h"
#include "crmt/models/encoder.h"
#include "crmt/models/resnet.h"

namespace crmt {

namespace nn = torch::nn;

namespace {

using Op = std::function<at::Tensor(const at::Tensor&)>;

// Runs a 2-D image op on the last three dimensions of x, leading ones (batch, frames) folded into
// one batch dimension.
at::Tensor on_images(const at::Tensor& x, const Op& op) {
  if (x.dim() == 4) return op(x);
  if (x.dim() < 4) fail("bound propagation: an image layer needs [C, H, W] inputs, got {} dimensions", x.dim() - 1);
  const auto lead = x.sizes().slice(0, static_cast<size_t>(x.dim() - 3));
  const auto y = op(x.reshape({-1, x.size(-3), x.size(-2), x.size(-1)}));
  std::vector<int64_t> shape(lead.begin(), lead.end());
  shape.insert(shape.end(), y.sizes().begin() + 1, y.sizes().end());
  return y.reshape(shape);
}

// The last three dimensions of a per-sample shape.
std::vector<int64_t> image_shape(const std::vector<int64_t>& shape) {
  if (shape.size() < 3) fail("an image layer needs [C, H, W] inputs, got [{}]", fmt::join(shape, ", "));
  return {shape.end() - 3, shape.end()};
}

BoundLayer linear_layer(nn::LinearImpl& lin) {
  BoundLayer b;
  const auto w = lin.weight.detach().to(torch::kDouble);
  const auto bias = lin.bias.defined() ? lin.bias.detach().to(torch::kDouble) : at::Tensor();
  b.apply = [w, bias](const at::Tensor& x) { return at::linear(x, w, bias); };
  b.transpose = [w](const at::Tensor& a) { return a.matmul(w); };
  b.apply_abs = [aw = w.abs()](const at::Tensor& x) { return at::linear(x, aw); };
  b.apply_square = [w2 = w.square()](const at::Tensor& x) { return at::linear(x, w2); };
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
  const auto image = image_shape(in_shape);
  BoundLayer b;
  auto conv_with = [=](const at::Tensor& weight, const at::Tensor& with_bias) {
    return [=](const at::Tensor& x) {
      return on_images(x, [&](const at::Tensor& v) { return at::conv2d(v, weight, with_bias, stride, padding, dilation, groups); });
    };
  };
  b.apply = conv_with(w, bias);
  b.apply_abs = conv_with(w.abs(), {});
  b.apply_square = conv_with(w.square(), {});
  // conv_transpose2d's output_padding makes its output the input's size again.
  b.transpose = [=](const at::Tensor& a) {
    return on_images(a, [&](const at::Tensor& v) {
      std::vector<int64_t> extra(2);
      for (int d = 0; d < 2; ++d)
        extra[d] = image[1 + d] - ((v.size(2 + d) - 1) * stride[d] - 2 * padding[d] + dilation[d] * (w.size(2 + d) - 1) + 1);
      return at::conv_transpose2d(v, w, {}, stride, padding, extra, groups, dilation);
    });
  };
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
  b.apply_square = [s = scale.square()](const at::Tensor& x) { return x * s; };
  b.diagonal = true;
  return b;
}

// Average pooling is linear with nonnegative weights (|L| = L); its transpose is its backward.
BoundLayer avgpool2d_layer(nn::AvgPool2dImpl& pool, const std::vector<int64_t>& in_shape) {
  const auto& o = pool.options;
  const std::vector<int64_t> k(o.kernel_size()->begin(), o.kernel_size()->end()),
      s(o.stride()->begin(), o.stride()->end()), p(o.padding()->begin(), o.padding()->end());
  const bool ceil = o.ceil_mode(), include_pad = o.count_include_pad();
  const auto divisor = o.divisor_override();
  const auto image = image_shape(in_shape);
  BoundLayer b;
  b.apply = [=](const at::Tensor& x) {
    return on_images(x, [&](const at::Tensor& v) { return at::avg_pool2d(v, k, s, p, ceil, include_pad, divisor); });
  };
  b.transpose = [=](const at::Tensor& a) {
    return on_images(a, [&](const at::Tensor& v) {
      const auto like = at::empty({v.size(0), image[0], image[1], image[2]}, v.options());
      return at::avg_pool2d_backward(v, like, k, s, p, ceil, include_pad, divisor);
    });
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
  const auto image = image_shape(in_shape);
  BoundLayer b;
  b.apply = [size](const at::Tensor& x) {
    return on_images(x, [&](const at::Tensor& v) { return at::adaptive_avg_pool2d(v, size); });
  };
  b.transpose = [image](const at::Tensor& a) {
    return on_images(a, [&](const at::Tensor& v) {
      return at::_adaptive_avg_pool2d_backward(v, at::empty({v.size(0), image[0], image[1], image[2]}, v.options()));
    });
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

// A ResNet's last step: the mean over space and over a clip's frames, [(T,) C, H, W] -> [C].
BoundLayer mean_pool_layer(const std::vector<int64_t>& in_shape) {
  int64_t count = 1;
  for (size_t d = 0; d < in_shape.size(); ++d)
    if (d != in_shape.size() - 3) count *= in_shape[d];
  std::vector<int64_t> spread(in_shape.size() + 1, 1);  // [S, (1,) C, 1, 1]
  BoundLayer b;
  b.apply = [](const at::Tensor& x) {
    auto y = x.mean({-2, -1});
    return y.dim() == 3 ? y.mean(1) : y;
  };
  b.transpose = [in_shape, count, spread](const at::Tensor& a) {
    auto shape = spread;
    shape[0] = a.size(0);
    shape[shape.size() - 3] = a.size(1);
    return (a / static_cast<double>(count)).view(shape).expand(batch_of(a.size(0), in_shape)).contiguous();
  };
  b.apply_abs = b.apply;
  return b;
}

BoundLayer relu_layer() {
  BoundLayer b;
  b.kind = BoundLayer::Kind::Relu;
  return b;
}

BoundLayer maxpool_layer(int64_t kernel, int64_t stride, int64_t padding) {
  BoundLayer b;
  b.kind = BoundLayer::Kind::MaxPool;
  b.kernel = kernel;
  b.stride = stride;
  b.padding = padding;
  return b;
}

BoundLayer maxpool2d_layer(nn::MaxPool2dImpl& pool) {
  const auto& o = pool.options;
  auto square = [](const torch::ExpandingArray<2>& a, const char* what) {
    if ((*a)[0] != (*a)[1]) fail("MaxPool2d with a non-square {} is not supported", what);
    return (*a)[0];
  };
  if (square(o.dilation(), "dilation") != 1 || o.ceil_mode()) fail("MaxPool2d with dilation or ceil_mode is not supported");
  return maxpool_layer(square(o.kernel_size(), "kernel"), square(o.stride(), "stride"), square(o.padding(), "padding"));
}

}  // namespace

at::Tensor max_pool(const at::Tensor& x, const BoundLayer& pool) {
  return on_images(x, [&](const at::Tensor& v) { return at::max_pool2d(v, pool.kernel, pool.stride, pool.padding); });
}

namespace {

// The entry for one layer, or nullopt for layers that are the identity in evaluation mode.
// Throws std::invalid_argument for a layer type without an entry.
std::optional<BoundLayer> layer_of(nn::Module& layer, const std::vector<int64_t>& in_shape) {
  if (auto* l = dynamic_cast<nn::LinearImpl*>(&layer)) return linear_layer(*l);
  if (auto* l = dynamic_cast<nn::Conv2dImpl*>(&layer)) return conv2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::BatchNorm2dImpl*>(&layer)) return batchnorm2d_layer(*l);  // torch's or crmt's
  if (auto* l = dynamic_cast<nn::AvgPool2dImpl*>(&layer)) return avgpool2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::AdaptiveAvgPool2dImpl*>(&layer)) return adaptive_avgpool2d_layer(*l, in_shape);
  if (auto* l = dynamic_cast<nn::MaxPool2dImpl*>(&layer)) return maxpool2d_layer(*l);
  if (dynamic_cast<nn::FlattenImpl*>(&layer)) return flatten_layer(in_shape);
  if (dynamic_cast<nn::ReLUImpl*>(&layer)) return relu_layer();
  if (dynamic_cast<nn::IdentityImpl*>(&layer) || dynamic_cast<nn::DropoutImpl*>(&layer)) return std::nullopt;
  throw std::invalid_argument("no bound");
}

// Appends nodes in evaluation order, each with its shapes; collects the layers it cannot bound.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::vector<int64_t> input_shape) : input_shape_(std::move(input_shape)) {}

  const std::vector<int64_t>& shape(int64_t node) const { return node < 0 ? input_shape_ : nodes_[node].out_shape; }

  // Appends `layer` reading `inputs`; returns its index.
  int64_t add(BoundLayer layer, std::string name, std::vector<int64_t> inputs) {
    torch::NoGradGuard no_grad;
    layer.name = std::move(name);
    layer.in_shape = shape(inputs.front());
    layer.inputs = std::move(inputs);
    switch (layer.kind) {
      case BoundLayer::Kind::Affine:
        layer.offset = layer.apply(torch::zeros(batch_of(1, layer.in_shape), torch::kDouble)).squeeze(0);
        layer.out_shape = layer.offset.sizes().vec();
        break;
      case BoundLayer::Kind::MaxPool:
        layer.out_shape = max_pool(torch::zeros(batch_of(1, layer.in_shape), torch::kDouble), layer).squeeze(0).sizes().vec();
        break;
      case BoundLayer::Kind::Add:
        if (shape(layer.inputs.at(1)) != layer.in_shape)
          fail("{}: adds [{}] to [{}]", layer.name, fmt::join(layer.in_shape, ", "), fmt::join(shape(layer.inputs[1]), ", "));
        [[fallthrough]];
      case BoundLayer::Kind::Relu:
        layer.out_shape = layer.in_shape;
    }
    nodes_.push_back(std::move(layer));
    return static_cast<int64_t>(nodes_.size()) - 1;
  }

  // Appends `module`'s entry reading `input` and returns its index: `input` itself for a layer that
  // is the identity, and for one it cannot bound (noted, for the error at the end).
  int64_t add(nn::Module& module, const std::string& name, int64_t input) {
    try {
      auto layer = layer_of(module, shape(input));
      return layer ? add(std::move(*layer), name, {input}) : input;
    } catch (const std::invalid_argument&) {
      unsupported_.push_back(name);
    } catch (const Error& e) {
      unsupported_.push_back(fmt::format("{}: {}", name, e.what()));
    }
    return input;
  }

  std::vector<BoundLayer> finish(const std::string& encoder) {
    if (!unsupported_.empty())
      fail("bound propagation cannot bound encoder '{}': {} (bounded: Linear, Conv2d, BatchNorm2d, ReLU, MaxPool2d, "
           "AvgPool2d, AdaptiveAvgPool2d, Flatten, Identity, Dropout, ResNet BasicBlocks)",
           encoder, fmt::join(unsupported_, "; "));
    if (nodes_.empty()) fail("bound propagation: encoder '{}' has no layer to bound", encoder);
    return std::move(nodes_);
  }

 private:
  std::vector<int64_t> input_shape_;
  std::vector<BoundLayer> nodes_;
  std::vector<std::string> unsupported_;
};

nn::Module& child(nn::Module& module, const std::string& name, const std::string& path) {
  for (const auto& c : module.named_children())
    if (c.key() == name) return *c.value();
  fail("bound propagation: {} has no submodule '{}'", path, name);
}

// ResNetImpl::forward as a graph: stem (conv1, bn1, ReLU, 3x3 max pool), BasicBlocks
// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), then the mean over space and frames.
std::vector<BoundLayer> resnet_graph(ResNetImpl& net, const std::vector<int64_t>& input_shape) {
  if (input_shape.size() != 3 && input_shape.size() != 4)
    fail("bound propagation: {} needs inputs [C, H, W] or [T, C, H, W], got [{}]", net.kind(), fmt::join(input_shape, ", "));
  if (input_shape[input_shape.size() - 3] != net.in_channels())
    fail("bound propagation: {} expects {} input channels, got [{}]", net.kind(), net.in_channels(), fmt::join(input_shape, ", "));
  GraphBuilder g(input_shape);
  auto x = g.add(*net.conv1, "conv1 (Conv2d)", -1);
  x = g.add(*net.bn1, "bn1 (BatchNorm2d)", x);
  x = g.add(relu_layer(), "relu", {x});
  x = g.add(maxpool_layer(3, 2, 1), "maxpool (3x3, stride 2)", {x});
  int stage = 1;
  for (auto* layer : {&net.layer1, &net.layer2, &net.layer3, &net.layer4}) {
    int index = 0;
    for (auto& block : **layer) {
      const auto path = fmt::format("layer{}.{}", stage, index++);
      auto& b = *block.ptr();
      auto name = [&](const char* what, const char* type) { return fmt::format("{}.{} ({})", path, what, type); };
      auto y = g.add(child(b, "conv1", path), name("conv1", "Conv2d"), x);
      y = g.add(child(b, "bn1", path), name("bn1", "BatchNorm2d"), y);
      y = g.add(relu_layer(), name("relu", "ReLU"), {y});
      y = g.add(child(b, "conv2", path), name("conv2", "Conv2d"), y);
      y = g.add(child(b, "bn2", path), name("bn2", "BatchNorm2d"), y);
      auto shortcut = x;
      for (const auto& c : b.named_children())
        if (c.key() == "downsample") {
          auto& down = *c.value()->as<nn::SequentialImpl>();
          shortcut = g.add(*down.ptr(0), name("downsample.0", "Conv2d"), shortcut);
          shortcut = g.add(*down.ptr(1), name("downsample.1", "BatchNorm2d"), shortcut);
        }
      BoundLayer sum;
      sum.kind = BoundLayer::Kind::Add;
      y = g.add(std::move(sum), name("add", "residual"), {y, shortcut});
      x = g.add(relu_layer(), name("relu_out", "ReLU"), {y});
    }
    ++stage;
  }
  g.add(mean_pool_layer(g.shape(x)), "mean over space and frames", {x});
  return g.finish(net.kind());
}

}  // namespace

std::vector<BoundLayer> bound_graph(EncoderImpl& encoder, const std::vector<int64_t>& input_shape) {
  torch::NoGradGuard no_grad;
  if (auto* resnet = dynamic_cast<ResNetImpl*>(&encoder)) return resnet_graph(*resnet, input_shape);
  const auto body = encoder_body(encoder);
  if (!body)
    fail("bound propagation supports encoders that are a chain of layers (mlp, small_cnn) and ResNets; encoder '{}' "
         "is neither (attention is not bounded)",
         encoder.kind());
  GraphBuilder g(input_shape);
  int64_t x = -1;
  size_t index = 0;
  for (auto& any : *body) {
    auto& layer = *any.ptr();
    x = g.add(layer, fmt::format("{} (layer {})", layer_type_name(layer), index++), x);
  }
  return g.finish(encoder.kind());
}

at::Tensor evaluate(const std::vector<BoundLayer>& graph, const at::Tensor& x, int64_t last) {
  torch::NoGradGuard no_grad;
  if (last < 0) last = static_cast<int64_t>(graph.size()) - 1;
  std::vector<at::Tensor> values;
  values.reserve(static_cast<size_t>(last) + 1);
  for (int64_t i = 0; i <= last; ++i) {
    const auto& node = graph[static_cast<size_t>(i)];
    auto input = [&](size_t k) { return node.inputs[k] < 0 ? x : values[static_cast<size_t>(node.inputs[k])]; };
    switch (node.kind) {
      case BoundLayer::Kind::Affine: values.push_back(node.apply(input(0))); break;
      case BoundLayer::Kind::Add: values.push_back(input(0) + input(1)); break;
      case BoundLayer::Kind::Relu: values.push_back(input(0).clamp_min(0)); break;
      case BoundLayer::Kind::MaxPool: values.push_back(max_pool(input(0), node)); break;
    }
  }
  return values.back();
}

}  // namespace crmt
