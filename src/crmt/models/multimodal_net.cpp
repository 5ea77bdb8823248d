#include "crmt/models/multimodal_net.h"

#include "crmt/core/error.h"

namespace crmt {

MultiModalNetImpl::MultiModalNetImpl(ModalitySpecs specs, std::vector<std::shared_ptr<EncoderImpl>> encoders,
                                     std::shared_ptr<FusionHeadImpl> head)
    : specs_(std::move(specs)), encoders_(std::move(encoders)), head_(std::move(head)) {
  if (specs_.size() != encoders_.size())
    fail("model has {} modalities but {} encoders", specs_.size(), encoders_.size());
  for (size_t m = 0; m < encoders_.size(); ++m) register_module("encoder_" + specs_[m].name, encoders_[m]);
  register_module("head", head_);
}

const ModalitySpec& MultiModalNetImpl::spec(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return s;
  std::vector<std::string> names;
  for (const auto& s : specs_) names.push_back(s.name);
  fail("the model has no modality '{}' (it has {})", name, fmt::join(names, ", "));
}

std::vector<torch::Tensor> MultiModalNetImpl::align(const Batch& batch) const {
  std::vector<torch::Tensor> inputs;
  for (const auto& spec : specs_) inputs.push_back(batch.inputs[batch.index_of(spec.name)]);
  return inputs;
}

ModelOutput MultiModalNetImpl::forward(const Batch& batch) { return forward(align(batch)); }

ModelOutput MultiModalNetImpl::forward(const std::vector<torch::Tensor>& inputs) {
  if (inputs.size() != encoders_.size()) fail("model expects {} modalities, got {}", encoders_.size(), inputs.size());
  ModelOutput out;
  for (size_t m = 0; m < encoders_.size(); ++m) out.embeddings.push_back(embed(m, inputs[m]));
  auto fused = head_->forward(out.embeddings);
  out.unimodal_scores = std::move(fused.unimodal_scores);
  out.logits = fused.logits;
  return out;
}

torch::Tensor MultiModalNetImpl::embed(size_t m, const torch::Tensor& x) {
  auto e = encode(m, x);
  return filter_ ? filter_->forward(m, e) : e;
}

void MultiModalNetImpl::set_embedding_filter(std::shared_ptr<EmbeddingFilterImpl> filter) {
  if (filter_) fail("the model already has an embedding filter ({})", filter_->kind());
  filter_ = register_module("embedding_filter", std::move(filter));
}

std::vector<torch::Tensor> MultiModalNetImpl::encoder_parameters(size_t m) { return encoders_.at(m)->parameters(); }

}  // namespace crmt
