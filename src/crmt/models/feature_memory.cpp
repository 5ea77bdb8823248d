#include "crmt/models/feature_memory.h"

#include "crmt/core/error.h"

namespace crmt {

FeatureMemoryImpl::FeatureMemoryImpl(const std::vector<int64_t>& dims, int64_t size, double mix, double sparsity,
                                     int64_t steps)
    : mix_(mix), sparsity_(sparsity), steps_(steps) {
  if (size < 1) fail("feature memory: size must be >= 1, got {}", size);
  if (mix < 0 || mix > 1) fail("feature memory: mix must lie in [0, 1], got {}", mix);
  if (sparsity < 0) fail("feature memory: sparsity must be >= 0, got {}", sparsity);
  if (steps < 1) fail("feature memory: ISTA steps must be >= 1, got {}", steps);
  for (size_t m = 0; m < dims.size(); ++m)
    memories_.push_back(register_buffer("memory_" + std::to_string(m), torch::zeros({dims[m], size})));
}

std::string FeatureMemoryImpl::kind() const {
  return fmt::format("feature_memory[{}]", memories_.empty() ? 0 : memories_[0].size(1));
}

void FeatureMemoryImpl::set_memory(size_t m, const torch::Tensor& atoms) {
  auto& d = memories_.at(m);
  if (atoms.sizes() != d.sizes())
    fail("feature memory of modality {}: expected atoms [{}], got [{}]", m, fmt::join(d.sizes(), ", "),
         fmt::join(atoms.sizes(), ", "));
  torch::NoGradGuard no_grad;
  d.copy_(atoms);
}

torch::Tensor FeatureMemoryImpl::ista(const torch::Tensor& d, const torch::Tensor& x, double lambda, int64_t steps) {
  auto xt = x.t();  // [dim, N]
  const double lip = torch::linalg_matrix_norm(d.detach(), 2).pow(2).item<double>();
  const double step = lip > 0 ? 1.0 / lip : 0.0;  // an all-zero memory codes everything as 0
  auto a = torch::zeros({d.size(1), x.size(0)}, x.options());
  for (int64_t i = 0; i < steps; ++i) {
    auto z = a - step * d.t().matmul(d.matmul(a) - xt);
    a = torch::sign(z) * (z.abs() - step * lambda).clamp_min(0);
  }
  return a;
}

// Lipschitz bound: with t = 1 / ||D||^2, each ISTA step a <- soft(a - t D^T (D a - x)) is
// 1-Lipschitz in a (||I - t D^T D|| <= 1, soft-thresholding is 1-Lipschitz) and t ||D|| = 1 / ||D||
// Lipschitz in x, so after K steps the code moves by at most K ||dx|| / ||D|| and D A by K ||dx||.
torch::Tensor FeatureMemoryImpl::forward(size_t m, const torch::Tensor& embedding) {
  const auto& d = memories_.at(m);
  auto code = ista(d.to(embedding.scalar_type()), embedding, sparsity_, steps_);
  return mix_ * d.to(embedding.scalar_type()).matmul(code).t() + (1 - mix_) * embedding;
}

}  // namespace crmt
