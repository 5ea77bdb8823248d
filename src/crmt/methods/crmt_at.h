#pragma once
#include "crmt/methods/adversarial_training.h"
#include "crmt/methods/crmt.h"

namespace crmt {

// CRMT-AT: CRMT step 1 (CE + rho L1) on adversarial samples made as the official code's
// generate_AT_sample does, then CRMT step 2 as in CRMT-JT.
class CrmtAt : public Crmt {
 public:
  CrmtAt(CrmtSettings s, AdversarialSettings adv) : Crmt(std::move(s)), adv_(adv) {}
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  // `steps` steps of size `step` along the CE gradient normalized by its joint l2 norm over all
  // modalities (sqrt(sum + 1e-6), as the official code), each followed by clamping the
  // perturbation element-wise to [-2 eps, 2 eps] and the input to its modality's valid range.
  static Batch perturb(MultiModalNet& net, const Batch& batch, double eps, int steps, double step);
  const Batch& last_adversarial() const { return last_adv_; }

 private:
  AdversarialSettings adv_;
  Batch last_adv_;
};

}  // namespace crmt
