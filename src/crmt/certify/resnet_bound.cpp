#include "crmt/certify/resnet_bound.h"

#include <torch/torch.h>

#include <cmath>

#include "crmt/certify/layer_bounds.h"
#include "crmt/core/error.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {

namespace nn = torch::nn;
using ModulePtr = std::shared_ptr<nn::Module>;

// L(bn(conv(x))) for x of shape `in` [1, C, H, W], by the layer table's Conv2d entry (which folds
// the batch norm into the weights).
double conv_bn_bound(const ModulePtr& conv, const ModulePtr& bn, const std::vector<int64_t>& in) {
  const std::vector<ModulePtr> chain{conv, bn};
  const std::vector<std::vector<int64_t>> shapes{in, {}};
  const auto* entry = find_layer_bound(*conv);
  if (!entry) fail("guaranteed Lipschitz bound: no entry for {}", layer_type_name(*conv));
  const auto f = entry->bound(LayerSite{chain, shapes, 0, 2});
  if (f.layers != 2) fail("guaranteed Lipschitz bound: a ResNet conv without its batch norm");
  return f.numerator / f.denominator;
}

ModulePtr child(const nn::Module& module, const std::string& name) {
  for (const auto& c : module.named_children())
    if (c.key() == name) return c.value();
  return nullptr;
}

// One BasicBlock on input shape `in`; sets `in` to its output shape.
double block_bound(const nn::Module& block, std::vector<int64_t>& in) {
  auto conv1 = child(block, "conv1"), bn1 = child(block, "bn1"), conv2 = child(block, "conv2"), bn2 = child(block, "bn2");
  if (!conv1 || !bn1 || !conv2 || !bn2) fail("guaranteed Lipschitz bound: a ResNet block without conv1/bn1/conv2/bn2");
  auto* first = conv1->as<nn::Conv2dImpl>();
  auto mid = first->forward(torch::zeros(in, first->weight.options()));
  const double main = conv_bn_bound(conv1, bn1, in) * conv_bn_bound(conv2, bn2, mid.sizes().vec());
  double shortcut = 1.0;
  if (auto down = child(block, "downsample")) {
    auto& seq = *down->as<nn::SequentialImpl>();
    shortcut = conv_bn_bound(seq.ptr(0), seq.ptr(1), in);
  }
  in = conv2->as<nn::Conv2dImpl>()->forward(mid).sizes().vec();
  return main + shortcut;
}

}  // namespace

double resnet_lipschitz_bound(ResNetImpl& net, const ModalitySpec& spec) {
  const auto& s = spec.shape;
  if (s.size() != 3 && s.size() != 4)
    fail("guaranteed Lipschitz bound: modality '{}' has shape [{}], a ResNet needs [C, H, W] or [T, C, H, W]",
         spec.name, fmt::join(s, ","));
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(net);
  const int64_t frames = s.size() == 4 ? s[0] : 1;
  std::vector<int64_t> in{1, s[s.size() - 3], s[s.size() - 2], s[s.size() - 1]};
  double bound = conv_bn_bound(net.conv1.ptr(), net.bn1.ptr(), in);
  bound *= 2.0;  // max pool 3x3 stride 2: each input in at most 2 x 2 windows
  auto y = net.stem(torch::zeros(in, net.conv1->weight.options()));
  in = y.sizes().vec();
  for (const auto* layer : {&net.layer1, &net.layer2, &net.layer3, &net.layer4})
    for (const auto& block : **layer) bound *= block_bound(*block.ptr(), in);
  return bound / std::sqrt(static_cast<double>(frames * in[2] * in[3]));
}

}  // namespace crmt
