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

MultiModalNetImpl::MultiModalNetImpl(ModalitySpecs specs, std::shared_ptr<JointEncoderImpl> encoder,
                                     std::shared_ptr<FusionHeadImpl> head)
    : specs_(std::move(specs)), joint_(std::move(encoder)), head_(std::move(head)) {
  if (!joint_) fail("a joint-encoder model needs an encoder");
  if (specs_.size() != joint_->out_dims().size())
    fail("model has {} modalities but its {} encoder gives {} embeddings", specs_.size(), joint_->kind(),
         joint_->out_dims().size());
  register_module("encoder", joint_);
  register_module("head", head_);
}

void MultiModalNetImpl::require_late_fusion(const std::string& purpose) const {
  if (late_fusion()) return;
  fail("{} needs a late-fusion model, where each modality's embedding depends on that modality's input only "
       "(Theorems 3.3 and 3.5); this model's {} encoder mixes the modalities before the head, so no such "
       "guarantee holds for it (evaluate it with attacks instead)",
       purpose, joint_->kind());
}

EncoderImpl& MultiModalNetImpl::encoder(size_t m) {
  require_late_fusion("a per-modality encoder");
  return *encoders_.at(m);
}

int64_t MultiModalNetImpl::embedding_dim(size_t m) const {
  return joint_ ? joint_->out_dims().at(m) : encoders_.at(m)->out_dim();
}

torch::Tensor MultiModalNetImpl::encode(size_t m, const torch::Tensor& x) { return encoder(m).forward(x); }

std::vector<torch::Tensor> MultiModalNetImpl::embed_all(const std::vector<torch::Tensor>& inputs) {
  if (inputs.size() != specs_.size()) fail("model expects {} modalities, got {}", specs_.size(), inputs.size());
  std::vector<torch::Tensor> embeddings;
  if (joint_) {
    embeddings = joint_->forward(inputs);
    if (filter_)
      for (size_t m = 0; m < embeddings.size(); ++m) embeddings[m] = filter_->forward(m, embeddings[m]);
    return embeddings;
  }
  for (size_t m = 0; m < encoders_.size(); ++m) embeddings.push_back(embed(m, inputs[m]));
  return embeddings;
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
  ModelOutput out;
  out.embeddings = embed_all(inputs);
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

std::vector<torch::Tensor> MultiModalNetImpl::encoder_parameters(size_t m) {
  return joint_ ? joint_->modality_parameters(m) : encoders_.at(m)->parameters();
}

}  // namespace crmt
