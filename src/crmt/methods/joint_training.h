#pragma once
#include "crmt/train/method.h"

namespace crmt {

// JT: cross-entropy on the fused logits, every parameter trained together.
class JointTraining : public Method {
 public:
  std::string name() const override { return "jt"; }
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
};

}  // namespace crmt
