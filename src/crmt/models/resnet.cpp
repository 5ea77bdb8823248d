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
    bn1 = register_module("bn1", BatchNorm2d(out));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", BatchNorm2d(out));
    if (stride != 1 || in != out)  // torchvision: downsample.0 (1x1 conv), downsample.1 (BN)
      downsample = register_module(
          "downsample", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                       BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }

 private:
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

nn::Sequential make_layer(int64_t in, int64_t out, int64_t stride, int64_t blocks) {
  nn::Sequential layer(BasicBlock(in, out, stride));
  for (int64_t b = 1; b < blocks; ++b) layer->push_back(BasicBlock(out, out, 1));
  return layer;
}

}  // namespace

ResNetImpl::ResNetImpl(int64_t in_channels, int64_t frames, int64_t depth, int64_t width)
    : in_channels_(in_channels), frames_(frames), depth_(depth), width_(width) {
  if (depth != 18 && depth != 34) fail("resnet depth must be 18 or 34, got {}", depth);
  if (in_channels < 1) fail("resnet{} needs at least 1 input channel, got {}", depth, in_channels);
  if (width < 1) fail("model.resnet_width must be at least 1, got {}", width);
  const std::vector<int64_t> blocks = depth == 18 ? std::vector<int64_t>{2, 2, 2, 2} : std::vector<int64_t>{3, 4, 6, 3};
  const int64_t w = width;
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in_channels, w, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", BatchNorm2d(w));
  layer1 = register_module("layer1", make_layer(w, w, 1, blocks[0]));
  layer2 = register_module("layer2", make_layer(w, 2 * w, 2, blocks[1]));
  layer3 = register_module("layer3", make_layer(2 * w, 4 * w, 2, blocks[2]));
  layer4 = register_module("layer4", make_layer(4 * w, 8 * w, 2, blocks[3]));
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

void ResNetImpl::use_channels_last() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  channels_last_ = true;
}

torch::Tensor ResNetImpl::fold_frames(const torch::Tensor& x, int64_t* t) const {
  torch::Tensor frames = x;
  *t = 1;
  if (x.dim() == 5) {  // [N, T, C, H, W]: fold time into the batch
    *t = x.size(1);
    frames = x.reshape({x.size(0) * *t, x.size(2), x.size(3), x.size(4)});
  } else if (x.dim() != 4) {
    fail("{} expects [N, C, H, W] or [N, T, C, H, W] input, got {} dimensions", kind(), x.dim());
  }
  if (frames.size(1) != in_channels_)
    fail("{} stem expects {} input channels, got {}", kind(), in_channels_, frames.size(1));
  if (channels_last_) frames = frames.contiguous(at::MemoryFormat::ChannelsLast);
  return frames;
}

torch::Tensor ResNetImpl::stem(const torch::Tensor& frames) {
  return torch::max_pool2d(torch::relu(bn1(conv1(frames))), {3, 3}, {2, 2}, {1, 1});
}

torch::Tensor ResNetImpl::stage(int i, const torch::Tensor& y) {
  switch (i) {
    case 1: return layer1->forward(y);
    case 2: return layer2->forward(y);
    case 3: return layer3->forward(y);
    case 4: return layer4->forward(y);
  }
  fail("resnet stages are 1..4, got {}", i);
}

torch::Tensor ResNetImpl::pool(const torch::Tensor& y, int64_t t) {
  // Mean over space per frame, then over T: equal to adaptive_avg_pool3d over (T, H', W').
  auto features = y.mean({2, 3});
  return features.reshape({y.size(0) / t, t, -1}).mean(1);
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  int64_t t = 1;
  auto y = stem(fold_frames(x, &t));
  for (int i = 1; i <= 4; ++i) y = stage(i, y);
  return pool(y, t);
}

}  // namespace crmt
