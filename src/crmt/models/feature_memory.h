#pragma once
#include <vector>

#include "crmt/models/embedding_filter.h"

namespace crmt {

// MSEFM's external feature memory (ExFMem, Tian and Xu, CVPR 2021): each embedding x of modality m
// becomes  mix * D_m A + (1 - mix) * x,  A the sparse code of x in the memory D_m [dim, S] found by
// ISTA (lambda = sparsity, a fixed number of steps). The memories are buffers, filled by the method
// that trains the model (Msefm) and saved with it.
class FeatureMemoryImpl : public EmbeddingFilterImpl {
 public:
  FeatureMemoryImpl(const std::vector<int64_t>& dims, int64_t size, double mix, double sparsity, int64_t steps);

  torch::Tensor forward(size_t m, const torch::Tensor& embedding) override;
  std::string kind() const override;

  // Replaces modality m's memory by `atoms` [dim, S] (no gradient flows into it).
  void set_memory(size_t m, const torch::Tensor& atoms);
  const torch::Tensor& memory(size_t m) const { return memories_.at(m); }
  size_t num_modalities() const { return memories_.size(); }
  double mix() const { return mix_; }
  // mix * steps + (1 - mix), see the .cpp.
  double lipschitz_bound() const override { return mix_ * static_cast<double>(steps_) + (1 - mix_); }

  // Sparse code A [S, N] of x [N, dim] in dictionary d [dim, S]: `steps` ISTA iterations from 0 on
  // 0.5 ||x^T - d A||^2 + lambda |A|_1 with step 1 / ||d||_2^2.
  static torch::Tensor ista(const torch::Tensor& d, const torch::Tensor& x, double lambda, int64_t steps);

 private:
  std::vector<torch::Tensor> memories_;
  double mix_, sparsity_;
  int64_t steps_;
};

}  // namespace crmt
