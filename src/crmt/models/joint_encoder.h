#pragma once
#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace crmt {

// Intermediate or early fusion (MMTM, a multi-modal transformer): maps all modalities' batches
// together to one embedding [N, out_dims()[m]] per modality. Unlike EncoderImpl, modality m's
// embedding may depend on every modality's input, so the late-fusion certificates of section 3
// (which need phi(m) to be a function of x(m) alone) do not apply to a model built on one.
class JointEncoderImpl : public torch::nn::Module {
 public:
  // `inputs` in the model's modality order, one [N, ...] batch each.
  virtual std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) = 0;
  virtual std::vector<int64_t> out_dims() const = 0;
  // A short name for logs and checkpoints, e.g. "mmtm(resnet18)".
  virtual std::string kind() const = 0;
  // The parameters that belong to modality m alone (its stream, its tokenizer), for methods that
  // modulate one modality's learning (OGM-GE); shared parameters are in no modality's list.
  virtual std::vector<torch::Tensor> modality_parameters(size_t m) = 0;
};

}  // namespace crmt
