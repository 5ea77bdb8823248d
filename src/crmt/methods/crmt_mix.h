#pragma once
#include "crmt/methods/crmt.h"

namespace crmt {

// The two-target margin term of CRMT-Mix per sample, in log-space:
//   log( sum_m exp( LSE_{k not in {y_a, y_b}} s_k(m) - (lambda s_ya(m) + (1 - lambda) s_yb(m)) ) + floor )
// i.e. L1 of Eq. 12 with the target score replaced by the mixed one and both targets left out of the
// competing classes (with y_a = y_b it is exactly L1). A sample with no competing class (K = 2,
// y_a != y_b) and floor 0 contributes 0. [N]
at::Tensor mixup_margin_regularizer_per_sample(const std::vector<at::Tensor>& scores, const at::Tensor& labels_a,
                                               const at::Tensor& labels_b, double lambda, double floor);

// CRMT-Mix: CRMT step 1 on mixup samples, lambda CE(y_a) + (1 - lambda) CE(y_b) + rho * mean of the
// two-target margin term, then CRMT step 2 as in CRMT-JT.
class CrmtMix : public Crmt {
 public:
  CrmtMix(CrmtSettings s, double alpha) : Crmt(s), rho_(s.rho), floor_(s.l1_floor), alpha_(alpha) {}
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  bool mixes_samples() const override { return true; }
  double last_lambda() const { return last_lambda_; }
  const at::Tensor& last_permutation() const { return last_perm_; }

 private:
  double rho_, floor_, alpha_;
  double last_lambda_ = 1.0;
  at::Tensor last_perm_;
};

}  // namespace crmt
