#pragma once
#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace crmt {

// Late fusion: turns the per-modality embeddings into per-modality class scores and fused logits.
// Every head is linear in each phi(m): logits = sum_m C(m) phi(m) + b, which is what the
// certificates of section 3 need to know (see modality_weight() and vulnerability()).
class FusionHeadImpl : public torch::nn::Module {
 public:
  struct Output {
    std::vector<torch::Tensor> unimodal_scores;  // [N, K] per modality
    torch::Tensor logits;                        // [N, K]
  };
  virtual Output forward(const std::vector<torch::Tensor>& embeddings) = 0;
  // C(m): the K x dim(m) matrix with which modality m's embedding enters the fused logits
  // (W(m) for a concatenation head, diag(a(m)) W~(m) for an orthogonal one).
  virtual torch::Tensor modality_weight(size_t m) = 0;
  virtual torch::Tensor bias() = 0;
  // eta(m), float64 [K, K] with 0 on the diagonal: a Lipschitz constant, per unit l2 perturbation of
  // x(m), of modality m's contribution to the fused margin h_y - h_j. Built from the Lipschitz
  // constants of the uni-modal scores s(m) = unimodal_scores[m]: `tau` [K] (of s_k(m)) and
  // `pairwise` [K, K] (of s_y(m) - s_j(m)); which of them a head needs depends on how s(m) enters
  // its logits (the theorem behind its certificate). No gradient flows into the result.
  virtual torch::Tensor vulnerability(size_t m, const torch::Tensor& tau, const torch::Tensor& pairwise) = 0;
  virtual std::string kind() const = 0;
  virtual int64_t num_classes() const = 0;
};

}  // namespace crmt
