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
#include "crmt/models/joint_encoder.h"

namespace crmt {

// A multi-modal classifier: encoders, then a fusion head that is linear in each modality's embedding.
// Any number of modalities, in the order of `specs`; inputs are matched to encoders by modality name.
// Late fusion (one encoder per modality, phi(m) a function of x(m) alone: what the certificates of
// section 3 assume), or a joint encoder (MMTM, a multi-modal transformer) whose per-modality
// embeddings each see every input: then late_fusion() is false and encode/embed/encoder(m) throw.
class MultiModalNetImpl : public torch::nn::Module {
 public:
  MultiModalNetImpl(ModalitySpecs specs, std::vector<std::shared_ptr<EncoderImpl>> encoders,
                    std::shared_ptr<FusionHeadImpl> head);
  MultiModalNetImpl(ModalitySpecs specs, std::shared_ptr<JointEncoderImpl> encoder, std::shared_ptr<FusionHeadImpl> head);

  ModelOutput forward(const Batch& batch);
  // Inputs in the order of specs().
  ModelOutput forward(const std::vector<torch::Tensor>& inputs);
  // The encoder's output phi(m)(x), before any embedding filter (late fusion only).
  torch::Tensor encode(size_t m, const torch::Tensor& x);
  // The embedding the head sees: the encoder's output passed through the embedding filter, if any
  // (late fusion only).
  torch::Tensor embed(size_t m, const torch::Tensor& x);
  // Every modality's embedding as the head sees it, from all inputs (in the order of specs()).
  std::vector<torch::Tensor> embed_all(const std::vector<torch::Tensor>& inputs);

  // Whether phi(m) depends on x(m) only (one encoder per modality).
  bool late_fusion() const { return joint_ == nullptr; }
  // Throws crmt::Error saying why `purpose` (e.g. "a certified radius") needs late fusion, unless
  // the model is late fusion.
  void require_late_fusion(const std::string& purpose) const;
  // The joint encoder, or null for late fusion.
  JointEncoderImpl* joint_encoder() const { return joint_.get(); }
  // dim(phi(m)).
  int64_t embedding_dim(size_t m) const;

  const ModalitySpecs& specs() const { return specs_; }
  // The spec of the modality called `name`; throws crmt::Error naming the known ones.
  const ModalitySpec& spec(const std::string& name) const;
  size_t num_modalities() const { return specs_.size(); }
  int64_t num_classes() const { return head_->num_classes(); }
  // Modality m's own encoder (late fusion only).
  EncoderImpl& encoder(size_t m);
  FusionHeadImpl& head() { return *head_; }
  std::shared_ptr<FusionHeadImpl> head_ptr() { return head_; }
  // Installs a filter between the encoders and the head (registered, so saved in checkpoints).
  void set_embedding_filter(std::shared_ptr<EmbeddingFilterImpl> filter);
  std::shared_ptr<EmbeddingFilterImpl> embedding_filter() const { return filter_; }
  // Parameters of modality m's encoder (methods that modulate or freeze them need this split). For
  // a joint encoder: the parameters named after modality m (its stream or tokenizer), which is
  // what gradient modulation can still act on.
  std::vector<torch::Tensor> encoder_parameters(size_t m);
  // Inputs of `batch` reordered to this model's modality order; throws when a modality is missing.
  std::vector<torch::Tensor> align(const Batch& batch) const;

 private:
  ModalitySpecs specs_;
  std::vector<std::shared_ptr<EncoderImpl>> encoders_;
  std::shared_ptr<JointEncoderImpl> joint_;
  std::shared_ptr<FusionHeadImpl> head_;
  std::shared_ptr<EmbeddingFilterImpl> filter_;
};
TORCH_MODULE(MultiModalNet);

}  // namespace crmt
