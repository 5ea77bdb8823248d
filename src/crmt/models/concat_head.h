#pragma once
#include <torch/nn/modules/linear.h>

#include "crmt/models/fusion_head.h"

namespace crmt {

// The joint-training head: one linear layer on the concatenated embeddings, W = [W(1), ..., W(M)].
// The uni-modal score of modality m is W(m) phi(m), so the fused logits are their sum plus b.
class ConcatHeadImpl : public FusionHeadImpl {
 public:
  ConcatHeadImpl(std::vector<int64_t> embed_dims, int64_t num_classes);
  Output forward(const std::vector<torch::Tensor>& embeddings) override;
  torch::Tensor modality_weight(size_t m) override;
  torch::Tensor bias() override { return fc->bias; }
  // Theorem 3.3: modality m enters h_y - h_j as s_y(m) - s_j(m), so eta(m) = `pairwise` (a copy,
  // diagonal zeroed); `tau` is not needed.
  torch::Tensor vulnerability(size_t m, const torch::Tensor& tau, const torch::Tensor& pairwise) override;
  std::string kind() const override { return "concat"; }
  int64_t num_classes() const override { return num_classes_; }

  torch::nn::Linear fc{nullptr};

 private:
  std::vector<int64_t> dims_, offsets_;
  int64_t num_classes_;
};

}  // namespace crmt
