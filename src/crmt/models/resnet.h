#pragma once
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "crmt/models/batch_norm.h"
#include "crmt/models/encoder.h"

namespace crmt {

// ResNet-18 as the paper uses it (He et al. 2016, BasicBlocks [2, 2, 2, 2], 512-d output), or
// ResNet-34 (BasicBlocks [3, 4, 6, 3], Table 4 of the paper), with a modality-specific stem:
// `in_channels` is 1 for spectrograms, 2 for optical flow (u, v) and 3 for RGB frames. `width` is
// the stem's channel count (64 in the paper; the stages have width, 2, 4 and 8 x width channels and
// the output 8 x width), smaller for small inputs such as the embedded data's. Submodules carry torchvision's names (conv1, bn1, layer1..layer4 of blocks "0", "1"
// with conv1, bn1, conv2, bn2 and downsample "0" conv / "1" bn), so that a torchvision resnet18
// state dict maps by name (see pretrained.h); there is no avgpool/fc module. Input is [N, C, H, W]
// or a clip [N, T, C, H, W]: frames are folded into the batch, and the layer-4 maps are averaged
// over T and space (the official code's adaptive_avg_pool3d). Initialised as the official CRMT
// backbone: convs kaiming_normal_(fan_out, relu), BN weight ~ N(1, 0.02), bias 0.
class ResNetImpl : public EncoderImpl {
 public:
  // depth: 18 or 34.
  ResNetImpl(int64_t in_channels, int64_t frames, int64_t depth = 18, int64_t width = 64);
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t out_dim() const override { return 8 * width_; }
  std::string kind() const override { return "resnet" + std::to_string(depth_); }
  int64_t in_channels() const { return in_channels_; }
  int64_t depth() const { return depth_; }

  // forward() in pieces, for intermediate fusion (MMTM) between two streams:
  // fold_frames: [N, C, H, W] or [N, T, C, H, W] -> [N*T, C, H, W] (checks the shape; sets *t);
  // stem: conv1, bn1, relu, max pool; stage(i, y): layer i (1..4); pool: the mean over space and
  // the clip's T frames, [N*T, C', H', W'] -> [N, C'].
  torch::Tensor fold_frames(const torch::Tensor& x, int64_t* t) const;
  torch::Tensor stem(const torch::Tensor& frames);
  torch::Tensor stage(int i, const torch::Tensor& y);
  static torch::Tensor pool(const torch::Tensor& y, int64_t t);
  // Channels of stage i's output.
  int64_t stage_channels(int i) const { return width_ << (i - 1); }
  // Stores the convolution weights in channels-last (NHWC) memory and converts inputs to it, the
  // layout cuDNN's tensor-core kernels read without transposing: for GPUs.
  void use_channels_last();

  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};

 private:
  int64_t in_channels_, frames_, depth_, width_;
  bool channels_last_ = false;
};

}  // namespace crmt
