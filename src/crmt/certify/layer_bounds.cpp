#include "crmt/certify/layer_bounds.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <variant>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/models/batch_norm.h"
#include "crmt/models/encoder.h"

namespace crmt {

namespace nn = torch::nn;

namespace {

// The layer as its type (torch::nn::Module is a virtual base, so no static_cast); the table's key
// guarantees the type.
template <typename ModuleImpl>
ModuleImpl& module_as(torch::nn::Module& layer) {
  return dynamic_cast<ModuleImpl&>(layer);
}

// Per-channel factor gamma / sqrt(running_var + eps) of an eval-mode batch norm, float64.
at::Tensor batchnorm_scale(nn::BatchNorm2dImpl& bn) {
  const auto& o = bn.options;
  if (!o.track_running_stats()) fail("guaranteed Lipschitz bound: BatchNorm2d without running statistics");
  auto var = bn.running_var.to(torch::kDouble);
  auto scale = (var + o.eps()).rsqrt();
  if (o.affine()) scale = scale * bn.weight.detach().to(torch::kDouble);
  return scale;
}

LayerLipschitz linear_bound(const LayerSite& site) {
  auto& lin = module_as<nn::LinearImpl>(site.layer());
  return {spectral_norm(lin.weight.detach())};
}

LayerLipschitz conv2d_bound(const LayerSite& site) {
  auto& conv = module_as<nn::Conv2dImpl>(site.layer());
  const auto& o = conv.options;
  using std::holds_alternative;  // and c10's, by argument-dependent lookup (LibTorch 1.x)
  if (!holds_alternative<torch::enumtype::kZeros>(o.padding_mode()))
    fail("guaranteed Lipschitz bound: only zero-padded Conv2d layers are supported");
  if (!holds_alternative<torch::ExpandingArray<2>>(o.padding()))
    fail("guaranteed Lipschitz bound: Conv2d padding 'same'/'valid' is not supported");
  LayerLipschitz out;
  auto weight = conv.weight.detach().to(torch::kDouble);
  // A following eval-mode BatchNorm2d is a per-output-channel scale: fold it into the weight
  // (tighter than multiplying the two norms).
  if (site.index + 1 < site.end) {
    auto& next = *site.layers[site.index + 1];
    if (dynamic_cast<nn::BatchNorm2dImpl*>(&next)) {  // torch's or crmt's (models/batch_norm.h)
      weight = weight * batchnorm_scale(module_as<nn::BatchNorm2dImpl>(next)).view({-1, 1, 1, 1});
      out.layers = 2;
    }
  }
  const auto& in = site.in_shape();
  // Conv padding is a c10::variant in LibTorch 1.x and a std::variant in 2.x: with std::get in
  // scope, argument-dependent lookup finds c10::get for the former.
  using std::get;
  auto pad = get<torch::ExpandingArray<2>>(o.padding());
  std::vector<int64_t> chw(in.begin() + 1, in.end());
  std::vector<int64_t> stride(o.stride()->begin(), o.stride()->end());
  std::vector<int64_t> padding(pad->begin(), pad->end());
  std::vector<int64_t> dilation(o.dilation()->begin(), o.dilation()->end());
  // Power iteration converges from below; the FFT bound is rigorous but can be loose on small
  // grids. A 1e-3 margin on the converged power estimate, capped by the rigorous bound: once the
  // estimate (non-decreasing) is within the margin of the bound, the bound is the answer.
  constexpr double kMargin = 1e-3;
  const double upper = conv2d_norm_upper_bound(weight, chw, padding, dilation, o.groups());
  const double power = conv2d_operator_norm(weight, chw, stride, padding, dilation, o.groups(), 2000, 1e-10, 0,
                                            upper / (1.0 + kMargin));
  out.numerator = std::min(upper, power * (1.0 + kMargin));
  return out;
}

LayerLipschitz batchnorm2d_bound(const LayerSite& site) {
  auto& bn = module_as<nn::BatchNorm2dImpl>(site.layer());
  return {batchnorm_scale(bn).abs().max().item<double>()};
}

LayerLipschitz maxpool2d_bound(const LayerSite& site) {
  const auto& o = module_as<nn::MaxPool2dImpl>(site.layer()).options;
  for (auto d : *o.dilation())
    if (d != 1) fail("guaranteed Lipschitz bound: dilated MaxPool2d is not supported");
  // Each input lies in at most ceil(k/s) windows per axis; the max over a window is 1-Lipschitz
  // from that window's l2 norm, so the layer is sqrt(overlap)-Lipschitz.
  double overlap = 1.0;
  for (int a = 0; a < 2; ++a) {
    const int64_t k = (*o.kernel_size())[a], s = (*o.stride())[a];
    overlap *= static_cast<double>((k + s - 1) / s);
  }
  return {std::sqrt(overlap)};
}

LayerLipschitz adaptive_avgpool2d_bound(const LayerSite& site) {
  const auto& in = site.in_shape();
  const auto out_size = module_as<nn::AdaptiveAvgPool2dImpl>(site.layer()).options.output_size();
  const int64_t h = in[2], w = in[3];
  std::vector<int64_t> os;
  for (int a = 0; a < 2; ++a) os.push_back((*out_size)[a].has_value() ? *(*out_size)[a] : in[2 + a]);
  if (h % os[0] != 0 || w % os[1] != 0)
    fail("guaranteed Lipschitz bound: AdaptiveAvgPool2d with overlapping windows ({}x{} -> {}x{}) is not supported",
         h, w, os[0], os[1]);
  // Disjoint windows of n positions: each output is a mean, a row of norm 1/sqrt(n).
  LayerLipschitz out;
  out.denominator = std::sqrt(static_cast<double>((h / os[0]) * (w / os[1])));
  return out;
}

LayerLipschitz one_lipschitz(const LayerSite&) { return {}; }

using BoundTable = std::unordered_map<std::type_index, LayerBound>;

BoundTable& table() {
  static BoundTable t = [] {
    BoundTable b;
    b.emplace(typeid(nn::LinearImpl), LayerBound{"Linear", false, linear_bound});
    b.emplace(typeid(nn::Conv2dImpl), LayerBound{"Conv2d", false, conv2d_bound});
    b.emplace(typeid(nn::BatchNorm2dImpl), LayerBound{"BatchNorm2d", false, batchnorm2d_bound});
    b.emplace(typeid(BatchNorm2dImpl), LayerBound{"BatchNorm2d", false, batchnorm2d_bound});  // models/batch_norm.h
    b.emplace(typeid(nn::MaxPool2dImpl), LayerBound{"MaxPool2d", false, maxpool2d_bound});
    b.emplace(typeid(nn::AdaptiveAvgPool2dImpl), LayerBound{"AdaptiveAvgPool2d", false, adaptive_avgpool2d_bound});
    b.emplace(typeid(nn::ReLUImpl), LayerBound{"ReLU", false, one_lipschitz});
    b.emplace(typeid(nn::FlattenImpl), LayerBound{"Flatten", true, one_lipschitz});
    b.emplace(typeid(nn::IdentityImpl), LayerBound{"Identity", true, one_lipschitz});
    b.emplace(typeid(nn::DropoutImpl), LayerBound{"Dropout", true, one_lipschitz});  // bounded in eval mode
    return b;
  }();
  return t;
}

}  // namespace

const LayerBound* find_layer_bound(const torch::nn::Module& layer) {
  const auto& t = table();
  auto it = t.find(std::type_index(typeid(layer)));
  return it == t.end() ? nullptr : &it->second;
}

void register_layer_bound(std::type_index type, LayerBound bound) {
  if (!bound.bound) fail("register_layer_bound: the entry '{}' has no bound function", bound.name);
  table().insert_or_assign(type, std::move(bound));
}

std::vector<std::string> supported_layer_names() {
  std::vector<std::string> names;
  for (const auto& entry : table()) names.push_back(entry.second.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());  // torch's and crmt's BatchNorm2d
  return names;
}

std::shared_ptr<torch::nn::SequentialImpl> encoder_body(EncoderImpl& encoder) {
  for (const auto& child : encoder.named_children())
    if (child.key() == "body") return std::dynamic_pointer_cast<torch::nn::SequentialImpl>(child.value());
  return nullptr;
}

std::string layer_type_name(const torch::nn::Module& layer) {
  std::string name = layer.name();  // demangled class name, e.g. "torch::nn::Conv2dImpl"
  const auto angle = name.find('<');  // a template's arguments may hold "::" too
  if (angle != std::string::npos) name.resize(angle);
  const auto colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  const std::string impl = "Impl";
  if (name.size() > impl.size() && name.compare(name.size() - impl.size(), impl.size(), impl) == 0)
    name.resize(name.size() - impl.size());
  return name;
}

}  // namespace crmt
