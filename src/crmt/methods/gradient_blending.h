#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// Gradient Blending (Wang, Tran, Feiszli, CVPR 2020), online G-Blend on a late-fusion model: beside
// the fused head, one linear uni-modal head per modality (method-owned, trained with the model);
// loss = sum_m w_m CE(uni-modal head m) + w_M CE(fused). Every `super_epoch` epochs the weights are
// re-estimated from the change of each head's training and validation losses over the last
// super-epoch: w_k proportional to dG_k / dO_k^2, normalized to sum to 1, where
// dG_k = L^V_k(before) - L^V_k(after) and dO_k = O_k(after) - O_k(before), O = L^V - L^T.
class GradientBlending : public Method {
 public:
  GradientBlending(int64_t super_epoch, int64_t train_samples) : super_epoch_(super_epoch), train_samples_(train_samples) {}
  static std::unique_ptr<GradientBlending> from_config(const Config& config);
  std::string name() const override { return "gb"; }
  void setup(MultiModalNet& net, const MultiModalDataset& train) override;
  std::vector<torch::Tensor> extra_parameters() override;
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // Per-head losses [M + 1] (uni-modal heads, then fused) on `data` in eval mode.
  at::Tensor head_losses(MultiModalNet& net, const MultiModalDataset& data, int64_t batch_size);
  // The G-Blend estimate from the losses at the start and end of a super-epoch ([M + 1] each).
  // Heads that did not generalize (dG <= 0) get weight 0; returns an undefined tensor when no head
  // did (the caller keeps its weights).
  static at::Tensor blend_weights(const at::Tensor& train_before, const at::Tensor& val_before,
                                  const at::Tensor& train_after, const at::Tensor& val_after);
  // Uni-modal head m's logits for embedding phi(m).
  at::Tensor unimodal_head(size_t m, const at::Tensor& embedding) const;
  const at::Tensor& weights() const { return weights_; }
  void set_weights(const at::Tensor& w) { weights_ = w.clone(); }

 private:
  int64_t super_epoch_, train_samples_;
  std::vector<at::Tensor> head_weight_, head_bias_;
  at::Tensor weights_;                   // [M + 1]
  at::Tensor train_before_, val_before_;  // losses at the start of the current super-epoch
};

}  // namespace crmt
