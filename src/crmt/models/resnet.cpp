#include "crmt/models/resnet.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include "crmt/core/error.h"

namespace crmt {

namespace nn = torch::nn;

namespace {

class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out)  // torchvision: downsample.0 (1x1 conv), downsample.1 (BN)
      downsample = register_module(
          "downsample", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                       nn::BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }

 private:
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

nn::Sequential make_layer(int64_t in, int64_t out, int64_t stride) {
  return nn::Sequential(BasicBlock(in, out, stride), BasicBlock(out, out, 1));
}

}  // namespace

ResNet18Impl::ResNet18Impl(int64_t in_channels, int64_t frames) : in_channels_(in_channels), frames_(frames) {
  if (in_channels < 1) fail("resnet18 needs at least 1 input channel, got {}", in_channels);
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", nn::BatchNorm2d(64));
  layer1 = register_module("layer1", make_layer(64, 64, 1));
  layer2 = register_module("layer2", make_layer(64, 128, 2));
  layer3 = register_module("layer3", make_layer(128, 256, 2));
  layer4 = register_module("layer4", make_layer(256, 512, 2));
  // The official CRMT backbone's initialisation (models/backbone.py).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      bn->weight.normal_(1.0, 0.02);
      bn->bias.zero_();
    }
  }
}

void ResNet18Impl::use_channels_last() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  channels_last_ = true;
}

torch::Tensor ResNet18Impl::forward(const torch::Tensor& x) {
  torch::Tensor frames = x;
  int64_t n = x.size(0), t = 1;
  if (x.dim() == 5) {  // [N, T, C, H, W]: fold time into the batch
    t = x.size(1);
    frames = x.reshape({n * t, x.size(2), x.size(3), x.size(4)});
  } else if (x.dim() != 4) {
    fail("resnet18 expects [N, C, H, W] or [N, T, C, H, W] input, got {} dimensions", x.dim());
  }
  if (frames.size(1) != in_channels_)
    fail("resnet18 stem expects {} input channels, got {}", in_channels_, frames.size(1));
  if (channels_last_) frames = frames.contiguous(at::MemoryFormat::ChannelsLast);
  auto y = torch::relu(bn1(conv1(frames)));
  y = torch::max_pool2d(y, {3, 3}, {2, 2}, {1, 1});
  y = layer4->forward(layer3->forward(layer2->forward(layer1->forward(y))));
  // Mean over space per frame, then over T: equal to adaptive_avg_pool3d over (T, H', W').
  auto features = y.mean({2, 3});
  return features.reshape({n, t, -1}).mean(1);
}

}  // namespace crmt
