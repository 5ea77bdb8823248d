#include "crmt/models/orthogonal_head.h"

#include "crmt/core/error.h"

namespace crmt {

torch::Tensor orthonormalize_rows(const torch::Tensor& v) {
  // The K x K eigen-problem runs in float64 so that W~ W~^T = I holds to ~1e-7 even in float32
  // training; it is tiny next to the encoders.
  auto vc = (v - v.mean(1, true)).to(torch::kDouble);
  auto s = torch::matmul(vc, vc.t());
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(s, "L");
  auto inv_sqrt = eigenvalues.clamp_min(1e-12).rsqrt();
  auto s_inv_sqrt = torch::matmul(eigenvectors * inv_sqrt.unsqueeze(0), eigenvectors.t());
  return torch::matmul(s_inv_sqrt, vc).to(v.scalar_type());
}

torch::Tensor centre_normalize_rows(const torch::Tensor& v) {
  auto vc = v - v.mean(1, true);
  return vc / vc.norm(2, 1, true).clamp_min(1e-12);
}

OrthogonalHeadImpl::OrthogonalHeadImpl(std::vector<int64_t> embed_dims, int64_t num_classes, double a_init,
                                       bool official_variant)
    : num_classes_(num_classes), official_variant_(official_variant) {
  for (size_t m = 0; m < embed_dims.size(); ++m) {
    if (!official_variant && embed_dims[m] <= num_classes)
      fail("model.head orthogonal needs embedding dimension > number of classes ({} <= {}) for {} orthogonal rows",
           embed_dims[m], num_classes, num_classes);
    // Same scale as nn::Linear's default initialization; the scale is normalized away anyway.
    const double bound = 1.0 / std::sqrt(static_cast<double>(embed_dims[m]));
    v_.push_back(register_parameter("v" + std::to_string(m), torch::empty({num_classes, embed_dims[m]}).uniform_(-bound, bound)));
    a_.push_back(register_parameter("a" + std::to_string(m), torch::full({num_classes}, a_init)));
  }
  bias_ = register_parameter("bias", torch::zeros({num_classes}));
}

torch::Tensor OrthogonalHeadImpl::normalized_weight(size_t m) {
  return official_variant_ ? centre_normalize_rows(v_.at(m)) : orthonormalize_rows(v_.at(m));
}

torch::Tensor OrthogonalHeadImpl::modality_weight(size_t m) { return a_.at(m).unsqueeze(1) * normalized_weight(m); }

torch::Tensor OrthogonalHeadImpl::vulnerability(size_t m, const torch::Tensor& tau, const torch::Tensor& /*pairwise*/) {
  if (m >= a_.size()) fail("orthogonal head has {} modalities, asked for modality {}", a_.size(), m);
  if (!tau.defined() || tau.dim() != 1 || tau.size(0) != num_classes_)
    fail("orthogonal head vulnerability needs Lipschitz constants tau of shape [{}], got [{}]", num_classes_,
         tau.defined() ? fmt::format("{}", fmt::join(tau.sizes(), ",")) : "");
  torch::NoGradGuard no_grad;
  auto a = a_[m].detach().to(torch::kDouble).cpu().abs();  // certificates are host-side numbers
  auto at = a * tau.to(torch::kDouble);  // |a_k| tau_k
  auto eta = at.unsqueeze(1) + at.unsqueeze(0);
  eta.fill_diagonal_(0);
  return eta;
}

std::vector<torch::Tensor> OrthogonalHeadImpl::classifier_parameters() {
  auto params = v_;
  params.push_back(bias_);
  return params;
}

OrthogonalHeadImpl::Output OrthogonalHeadImpl::forward(const std::vector<torch::Tensor>& embeddings) {
  if (embeddings.size() != v_.size()) fail("orthogonal head built for {} modalities got {}", v_.size(), embeddings.size());
  Output out;
  torch::Tensor sum;
  for (size_t m = 0; m < embeddings.size(); ++m) {
    auto score = torch::matmul(embeddings[m], normalized_weight(m).t());
    out.unimodal_scores.push_back(score);
    auto weighted = score * a_[m];
    sum = sum.defined() ? sum + weighted : weighted;
  }
  out.logits = sum + bias_;
  return out;
}

}  // namespace crmt
