#pragma once
#include "crmt/attacks/attack.h"

namespace crmt {

// Fast gradient method (l2): one step of size eps along the cross-entropy gradient, normalized
// jointly over the attacked modalities, then clamped to the valid range. Clamping only moves each
// coordinate back towards the clean input, so the final l2 norm never exceeds eps.
class Fgm : public Attack {
 public:
  explicit Fgm(double eps) : eps_(eps) {}
  std::string name() const override { return "fgm"; }
  Batch perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double eps_;
};

// l2 projected gradient descent from the clean input: `steps` steps of size step_size (default
// eps/3, as in the paper's code) along the jointly normalized gradient, each followed by projection
// onto the joint l2 ball of radius eps and clamping to the valid range.
class PgdL2 : public Attack {
 public:
  PgdL2(double eps, int steps = 4, double step_size = -1) : eps_(eps), steps_(steps), step_size_(step_size) {}
  std::string name() const override { return "pgd"; }
  Batch perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double eps_;
  int steps_;
  double step_size_;
};

// Gradient of the cross-entropy of the fused logits w.r.t. the inputs of `targets` (model in
// eval mode, parameters untouched).
std::vector<at::Tensor> input_gradients(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets);

}  // namespace crmt
