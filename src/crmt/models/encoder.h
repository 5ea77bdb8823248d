#pragma once
#include <torch/nn/module.h>

namespace crmt {

// phi(m): maps one modality's batch [N, ...] to its embedding [N, out_dim()].
class EncoderImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual int64_t out_dim() const = 0;
  // A short name for logs and checkpoints, e.g. "small_cnn".
  virtual std::string kind() const = 0;
};

}  // namespace crmt
