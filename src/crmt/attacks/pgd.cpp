#include "crmt/attacks/pgd.h"

#include "crmt/attacks/attack_registry.h"
#include "crmt/core/error.h"

namespace crmt {

CRMT_REGISTER_ATTACK({"pgd", "eps", "l2 projected gradient descent: `steps` steps of eps/3 within the joint l2 ball",
                      [](const AttackSpec& s) { return std::make_unique<PgdL2>(s.eps, s.steps); }, true});

Batch PgdL2::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (s_.eps < 0) fail("pgd: eps must be >= 0, got {}", s_.eps);
  if (s_.steps <= 0) fail("pgd: steps must be positive, got {}", s_.steps);
  if (targets.empty() || s_.eps == 0) return batch;
  GradientAttackSettings engine;
  engine.steps = s_.steps;
  engine.step_size = s_.step_size > 0 ? s_.step_size : s_.eps / 3.0;
  engine.radius = s_.eps;
  engine.rule = s_.rule;
  engine.projection = s_.projection;
  return gradient_attack(net, batch, targets, cross_entropy_objective(batch.labels), engine);
}

}  // namespace crmt
