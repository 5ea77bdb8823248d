#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// MMAT, multi-modal adversarial training (Li et al., ICASSP 2022): every batch is replaced by an
// l2-PGD adversarial batch made jointly over all modalities (budget eps on the joint norm), and the
// model is trained on it (optionally mixed with the clean loss through clean_weight).
struct AdversarialSettings {
  double eps = 0.1;
  int steps = 5;
  double step_scale = 0.2;  // step = step_scale * eps
  double clean_weight = 0.0;
  static AdversarialSettings from_config(const Config& config);
};

class AdversarialTraining : public Method {
 public:
  explicit AdversarialTraining(AdversarialSettings s) : s_(s) {}
  std::string name() const override { return "mmat"; }
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  // The adversarial batch the last loss() trained on (for tests).
  const Batch& last_adversarial() const { return last_adv_; }

 private:
  AdversarialSettings s_;
  Batch last_adv_;
};

}  // namespace crmt
