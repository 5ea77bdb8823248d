#pragma once
#include "crmt/attacks/attack.h"
#include "crmt/attacks/gradient_engine.h"

namespace crmt {

// Projected gradient ascent on the cross-entropy, from the clean input.
struct PgdSettings {
  double eps = 0.5;
  int steps = 4;
  double step_size = -1;  // <= 0: eps / 3, as in the paper's code
  StepRule rule = StepRule::normalized;
  Projection projection = Projection::joint_l2_ball;  // radius eps
};

// l2 PGD (the default settings): `steps` steps of size step_size along the jointly normalized
// gradient, each followed by projection onto the joint l2 ball of radius eps and clamping to the
// valid range. Other settings give the official CRMT-AT generator (stabilized steps, box).
class PgdL2 : public Attack {
 public:
  explicit PgdL2(PgdSettings s) : s_(s) {}
  PgdL2(double eps, int steps = 4, double step_size = -1) : s_{eps, steps, step_size} {}
  std::string name() const override { return "pgd"; }

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  PgdSettings s_;
};

}  // namespace crmt
