#pragma once
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/modality.h"
#include "crmt/core/model_output.h"
#include "crmt/models/embedding_filter.h"
#include "crmt/models/encoder.h"
#include "crmt/models/fusion_head.h"

namespace crmt {

// A late-fusion multi-modal classifier: one encoder per modality, then a fusion head. Any number of
// modalities, in the order of `specs`; inputs are matched to encoders by modality name.
class MultiModalNetImpl : public torch::nn::Module {
 public:
  MultiModalNetImpl(ModalitySpecs specs, std::vector<std::shared_ptr<EncoderImpl>> encoders,
                    std::shared_ptr<FusionHeadImpl> head);

  ModelOutput forward(const Batch& batch);
  // Inputs in the order of specs().
  ModelOutput forward(const std::vector<torch::Tensor>& inputs);
  // The encoder's output phi(m)(x), before any embedding filter.
  torch::Tensor encode(size_t m, const torch::Tensor& x) { return encoders_.at(m)->forward(x); }
  // The embedding the head sees: the encoder's output passed through the embedding filter, if any.
  torch::Tensor embed(size_t m, const torch::Tensor& x);

  const ModalitySpecs& specs() const { return specs_; }
  // The spec of the modality called `name`; throws crmt::Error naming the known ones.
  const ModalitySpec& spec(const std::string& name) const;
  size_t num_modalities() const { return specs_.size(); }
  int64_t num_classes() const { return head_->num_classes(); }
  EncoderImpl& encoder(size_t m) { return *encoders_.at(m); }
  FusionHeadImpl& head() { return *head_; }
  std::shared_ptr<FusionHeadImpl> head_ptr() { return head_; }
  // Installs a filter between the encoders and the head (registered, so saved in checkpoints).
  void set_embedding_filter(std::shared_ptr<EmbeddingFilterImpl> filter);
  std::shared_ptr<EmbeddingFilterImpl> embedding_filter() const { return filter_; }
  // Parameters of the encoders only (methods that modulate or freeze them need this split).
  std::vector<torch::Tensor> encoder_parameters(size_t m);
  // Inputs of `batch` reordered to this model's modality order; throws when a modality is missing.
  std::vector<torch::Tensor> align(const Batch& batch) const;

 private:
  ModalitySpecs specs_;
  std::vector<std::shared_ptr<EncoderImpl>> encoders_;
  std::shared_ptr<FusionHeadImpl> head_;
  std::shared_ptr<EmbeddingFilterImpl> filter_;
};
TORCH_MODULE(MultiModalNet);

}  // namespace crmt
