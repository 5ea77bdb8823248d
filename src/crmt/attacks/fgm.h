#pragma once
#include <vector>

#include "crmt/attacks/attack.h"

namespace crmt {

// Fast gradient method (l2): one step of size eps along the cross-entropy gradient, normalized
// jointly over the attacked modalities, then clamped to the valid range. Clamping only moves each
// coordinate back towards the clean input, so the final l2 norm never exceeds eps.
// direction() and apply() split the two halves, so that a sweep over strengths computes the
// gradient once.
class Fgm : public Attack {
 public:
  explicit Fgm(double eps) : eps_(eps) {}
  std::string name() const override { return "fgm"; }
  // The unit direction per attacked modality (model in eval mode: call through perturb() or hold an
  // EvalModeGuard).
  static std::vector<at::Tensor> direction(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets);
  // batch + eps * direction on `targets`, clamped to the valid range.
  static Batch apply(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                     const std::vector<at::Tensor>& direction, double eps);

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double eps_;
};

}  // namespace crmt
