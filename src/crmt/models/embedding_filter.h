#pragma once
#include <torch/nn/module.h>

#include <string>

namespace crmt {

// A map applied to each modality's embedding between its encoder and the fusion head, in training
// and at evaluation (a feature-space defense such as MSEFM's external feature memory). It is part of
// the model: its state travels in checkpoints and attacks see it.
class EmbeddingFilterImpl : public torch::nn::Module {
 public:
  // The filtered embedding [N, dim] of modality m.
  virtual torch::Tensor forward(size_t m, const torch::Tensor& embedding) = 0;
  // A short name for logs and checkpoints, e.g. "feature_memory[256]".
  virtual std::string kind() const = 0;
  // A Lipschitz constant (l2) of every map embedding -> forward(m, embedding), for guaranteed
  // certificates.
  virtual double lipschitz_bound() const = 0;
};

}  // namespace crmt
