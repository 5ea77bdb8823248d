#include "crmt/attacks/fgm.h"

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/gradient_engine.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {

CRMT_REGISTER_ATTACK({"fgm", "eps", "l2 fast gradient method: one normalized gradient step of size eps",
                      [](const AttackSpec& s) { return std::make_unique<Fgm>(s.eps); }});

std::vector<at::Tensor> Fgm::direction(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) {
  return joint_normalize(objective_gradients(net, batch, targets, cross_entropy_objective(batch.labels)));
}

Batch Fgm::apply(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                 const std::vector<at::Tensor>& direction, double eps) {
  torch::NoGradGuard no_grad;
  Batch out = batch;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto m = targets[i];
    out.inputs[m] = clamp_to_range(batch.inputs[m] + eps * direction[i], net->spec(batch.modalities[m]));
  }
  return out;
}

Batch Fgm::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (eps_ < 0) fail("fgm: eps must be >= 0, got {}", eps_);
  if (targets.empty() || eps_ == 0) return batch;
  return apply(net, batch, targets, direction(net, batch, targets), eps_);
}

}  // namespace crmt
