#include "crmt/models/concat_head.h"

#include "crmt/core/error.h"

namespace crmt {

ConcatHeadImpl::ConcatHeadImpl(std::vector<int64_t> embed_dims, int64_t num_classes)
    : dims_(std::move(embed_dims)), num_classes_(num_classes) {
  int64_t total = 0;
  for (auto d : dims_) {
    offsets_.push_back(total);
    total += d;
  }
  fc = register_module("fc", torch::nn::Linear(total, num_classes));
}

torch::Tensor ConcatHeadImpl::modality_weight(size_t m) { return fc->weight.narrow(1, offsets_.at(m), dims_.at(m)); }

torch::Tensor ConcatHeadImpl::vulnerability(size_t m, const torch::Tensor& /*tau*/, const torch::Tensor& pairwise) {
  if (m >= dims_.size()) fail("concat head has {} modalities, asked for modality {}", dims_.size(), m);
  if (!pairwise.defined() || pairwise.dim() != 2 || pairwise.size(0) != num_classes_ || pairwise.size(1) != num_classes_)
    fail("concat head vulnerability needs pairwise Lipschitz constants of shape [{}, {}], got [{}]", num_classes_,
         num_classes_, pairwise.defined() ? fmt::format("{}", fmt::join(pairwise.sizes(), ",")) : "");
  torch::NoGradGuard no_grad;
  auto eta = pairwise.to(torch::kDouble).cpu().clone();
  eta.fill_diagonal_(0);
  return eta;
}

ConcatHeadImpl::Output ConcatHeadImpl::forward(const std::vector<torch::Tensor>& embeddings) {
  if (embeddings.size() != dims_.size())
    fail("concat head built for {} modalities got {}", dims_.size(), embeddings.size());
  Output out;
  torch::Tensor sum;
  for (size_t m = 0; m < embeddings.size(); ++m) {
    auto score = torch::matmul(embeddings[m], modality_weight(m).t());
    out.unimodal_scores.push_back(score);
    sum = sum.defined() ? sum + score : score;
  }
  out.logits = sum + fc->bias;
  return out;
}

}  // namespace crmt
