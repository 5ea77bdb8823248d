#include "crmt/models/resnet.h"

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
    if (stride != 1 || in != out)
      shortcut = register_module(
          "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                     nn::BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }

 private:
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

}  // namespace

ResNet18Impl::ResNet18Impl(int64_t in_channels, int64_t frames) : in_channels_(in_channels), frames_(frames) {
  stem = register_module("stem", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in_channels, 64, 7).stride(2).padding(3).bias(false)),
                                                nn::BatchNorm2d(64), nn::ReLU(),
                                                nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1))));
  nn::Sequential seq;
  int64_t width = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    int64_t stride = out == 64 ? 1 : 2;
    seq->push_back(BasicBlock(width, out, stride));
    seq->push_back(BasicBlock(out, out, 1));
    width = out;
  }
  layers = register_module("layers", seq);
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
  auto features = torch::adaptive_avg_pool2d(layers->forward(stem->forward(frames)), {1, 1}).flatten(1);
  return features.reshape({n, t, -1}).mean(1);
}

}  // namespace crmt
