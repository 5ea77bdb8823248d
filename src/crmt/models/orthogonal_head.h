#pragma once
#include <torch/nn/module.h>

#include "crmt/models/fusion_head.h"

namespace crmt {

// W~ = (V_c V_c^T)^(-1/2) V_c with V_c the row-centred free weight: orthogonal weight
// normalization (Huang et al. 2018). Rows of the result are unit and mutually orthogonal; the
// gradient flows through the symmetric inverse square root. Needs rows <= cols - 1.
torch::Tensor orthonormalize_rows(const torch::Tensor& v);
// The official CRMT code's variant: each row centred and scaled to unit norm, rows not made
// orthogonal to each other.
torch::Tensor centre_normalize_rows(const torch::Tensor& v);

// The CRMT head of Eq. 8: h~_k = sum_m a_k(m) W~_k(m) phi(m) + b_k. Uni-modal scores are
// W~(m) phi(m) (without a(m)). `official_variant` selects centre_normalize_rows.
class OrthogonalHeadImpl : public FusionHeadImpl {
 public:
  OrthogonalHeadImpl(std::vector<int64_t> embed_dims, int64_t num_classes, double a_init, bool official_variant);
  Output forward(const std::vector<torch::Tensor>& embeddings) override;
  torch::Tensor modality_weight(size_t m) override;  // diag(a(m)) W~(m)
  torch::Tensor bias() override { return bias_; }
  // Theorem 3.5: modality m enters h_y - h_j as a_y(m) s_y(m) - a_j(m) s_j(m), so
  // eta(m)[y][j] = |a_y(m)| tau_y + |a_j(m)| tau_j (diagonal 0); `pairwise` is not needed.
  torch::Tensor vulnerability(size_t m, const torch::Tensor& tau, const torch::Tensor& pairwise) override;
  std::string kind() const override { return official_variant_ ? "orthogonal_official" : "orthogonal"; }
  int64_t num_classes() const override { return num_classes_; }

  // W~(m), recomputed from the free weight V(m).
  torch::Tensor normalized_weight(size_t m);
  // a(m) in R^K: the per-modality class weights that step 2 optimizes.
  torch::Tensor& class_weights(size_t m) { return a_.at(m); }
  std::vector<torch::Tensor> class_weight_parameters() { return a_; }
  // Everything except a(m): free weights and bias (step 1 trains all; step 2 freezes these).
  std::vector<torch::Tensor> classifier_parameters();

 private:
  std::vector<torch::Tensor> v_, a_;
  torch::Tensor bias_;
  int64_t num_classes_;
  bool official_variant_;
};

}  // namespace crmt
