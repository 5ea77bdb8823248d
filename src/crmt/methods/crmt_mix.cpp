// CRMT-Mix. Source followed: the official CRMT code, GeWu-Lab/Certifiable-Robust-Multi-modal-
// Training, train.py train_CRMT_mix: mixup_data with alpha 1.0 (lambda ~ Beta(1, 1), one permutation
// for both modalities), loss = mixup_criterion(CE, out, y_a, y_b, lam) + rho * mean(log(margin)),
// margin = sum_m numerator_m * exp(-(lam o_ya + (1 - lam) o_yb)), numerator_m =
// sum_k exp(o_k) - o_ya - o_yb * [y_a != y_b]; then get_lip and the_second_step as for CRMT-JT.
// The numerator subtracts the target LOGITS from a sum of exponentials, which looks like a slip for
// "all classes except the two targets" (sum_{k not in {ya, yb}} exp(o_k)): crmt implements that
// intent, in log-space (log-sum-exp over the non-target classes minus the mixed target score, then a
// log-sum-exp over the modalities and log(floor)), so it stays finite for logits of any size. It
// does not reproduce the slip. The official code takes log(margin) without a floor; crmt uses
// crmt.l1_floor (1e-5) as in its L1, which bounds the term below as there.
#include "crmt/methods/crmt_mix.h"

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/methods/mixup.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_METHOD({"crmt_mix", "CRMT-Mix: CRMT step 1 on mixup samples, then step 2",
                      [](const Config& c) -> std::unique_ptr<Method> {
                        return std::make_unique<CrmtMix>(CrmtSettings::from_config(c), mixup_alpha(c));
                      }});

at::Tensor mixup_margin_regularizer_per_sample(const std::vector<at::Tensor>& scores, const at::Tensor& labels_a,
                                               const at::Tensor& labels_b, double lambda, double floor) {
  if (floor < 0) fail("the margin regularizer's floor must be >= 0, got {}", floor);
  if (scores.empty()) fail("margin regularizer needs at least one modality");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<at::Tensor> terms;
  for (const auto& s : scores) {
    const int64_t k = s.size(1);
    auto target = lambda * s.gather(1, labels_a.unsqueeze(1)) + (1 - lambda) * s.gather(1, labels_b.unsqueeze(1));
    auto mask = torch::one_hot(labels_a, k).to(torch::kBool) | torch::one_hot(labels_b, k).to(torch::kBool);
    terms.push_back((s - target).masked_fill(mask, -inf));
  }
  if (floor > 0) terms.push_back(torch::full({labels_a.size(0), 1}, std::log(floor), scores[0].options()));
  auto all = torch::cat(terms, 1);
  // Rows without any finite entry (nothing to compete with, no floor) contribute 0, with a zero
  // gradient rather than the NaN that log-sum-exp over -inf alone would give.
  auto has_entry = torch::isfinite(all).any(1, true);
  auto safe = torch::where(has_entry, all, torch::zeros_like(all));
  return torch::where(has_entry.squeeze(1), torch::logsumexp(safe, 1), torch::zeros({all.size(0)}, all.options()));
}

StepResult CrmtMix::loss(MultiModalNet& net, const Batch& batch) {
  last_lambda_ = sample_beta(alpha_);
  last_perm_ = torch::randperm(batch.size(), torch::kLong);
  auto mixed = mix_batch(batch, last_lambda_, last_perm_);
  StepResult r = mixup_step(net, mixed);
  if (rho_ > 0)
    r.loss = r.loss + rho_ * mixup_margin_regularizer_per_sample(r.output.unimodal_scores, mixed.labels_a,
                                                                 mixed.labels_b, last_lambda_, floor_).mean();
  return r;
}

}  // namespace crmt
