#pragma once
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "crmt/models/encoder.h"

namespace crmt {

// Three conv-BN-ReLU stages (16, 32, embed_dim channels) with 2x2 max pooling and a global average
// pool: ~25k parameters and ~2M multiply-adds per 28x28 image, enough for the embedded data and
// fast on two cores (the paper's ResNet-18 is ~500x more work).
class SmallCnnImpl : public EncoderImpl {
 public:
  SmallCnnImpl(int64_t in_channels, int64_t embed_dim);
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t out_dim() const override { return embed_dim_; }
  std::string kind() const override { return "small_cnn"; }

  torch::nn::Sequential body{nullptr};

 private:
  int64_t embed_dim_;
};

}  // namespace crmt
