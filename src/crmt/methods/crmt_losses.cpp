#include "crmt/methods/crmt_losses.h"

#include "crmt/core/error.h"

namespace crmt {

at::Tensor margin_regularizer_per_sample(const std::vector<at::Tensor>& unimodal_scores, const at::Tensor& labels,
                                         double floor) {
  if (floor < 0) fail("the margin regularizer's floor must be >= 0, got {}", floor);
  if (unimodal_scores.empty()) fail("margin regularizer needs at least one modality");
  std::vector<at::Tensor> gaps;
  for (const auto& s : unimodal_scores) {
    auto own = s.gather(1, labels.unsqueeze(1));
    // Excluding k = y: its term would be exp(0); mask it to -inf before the log-sum-exp.
    auto mask = torch::one_hot(labels, s.size(1)).to(torch::kBool);
    gaps.push_back((s - own).masked_fill(mask, -std::numeric_limits<double>::infinity()));
  }
  if (floor > 0) gaps.push_back(torch::full({labels.size(0), 1}, std::log(floor), unimodal_scores[0].options()));
  return torch::logsumexp(torch::cat(gaps, 1), 1);
}

at::Tensor margin_regularizer(const std::vector<at::Tensor>& unimodal_scores, const at::Tensor& labels, double floor) {
  return margin_regularizer_per_sample(unimodal_scores, labels, floor).mean();
}

at::Tensor runner_up(const at::Tensor& logits, const at::Tensor& labels) {
  auto mask = torch::one_hot(labels, logits.size(1)).to(torch::kBool);
  return logits.detach().masked_fill(mask, -std::numeric_limits<double>::infinity()).argmax(1);
}

at::Tensor orthogonal_certified_bound(const std::vector<at::Tensor>& scores, const std::vector<at::Tensor>& a,
                                      const at::Tensor& bias, const at::Tensor& tau, const at::Tensor& y,
                                      const at::Tensor& j) {
  at::Tensor numerator = bias.index_select(0, y) - bias.index_select(0, j);
  at::Tensor denominator_sq;
  for (size_t m = 0; m < scores.size(); ++m) {
    auto s_y = scores[m].gather(1, y.unsqueeze(1)).squeeze(1);
    auto s_j = scores[m].gather(1, j.unsqueeze(1)).squeeze(1);
    auto a_y = a[m].index_select(0, y), a_j = a[m].index_select(0, j);
    numerator = numerator + a_y * s_y - a_j * s_j;
    auto eta = a_y.abs() * tau[m].index_select(0, y) + a_j.abs() * tau[m].index_select(0, j);
    denominator_sq = denominator_sq.defined() ? denominator_sq + eta.pow(2) : eta.pow(2);
  }
  // A zero denominator means a constant score: no finite perturbation changes it.
  return numerator / denominator_sq.clamp_min(1e-24).sqrt();
}

}  // namespace crmt
