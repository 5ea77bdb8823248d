#pragma once
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "crmt/models/encoder.h"

namespace crmt {

// ResNet-18 as the paper uses it (He et al. 2016, BasicBlocks [2, 2, 2, 2], 512-d output) with a
// modality-specific stem: `in_channels` is 1 for spectrograms and 3 for RGB frames. A visual clip
// arrives as [N, T, C, H, W]; each frame is encoded and the pooled features are averaged over T.
class ResNet18Impl : public EncoderImpl {
 public:
  ResNet18Impl(int64_t in_channels, int64_t frames);
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t out_dim() const override { return 512; }
  std::string kind() const override { return "resnet18"; }

 private:
  torch::nn::Sequential stem{nullptr}, layers{nullptr};
  int64_t in_channels_, frames_;
};

}  // namespace crmt
