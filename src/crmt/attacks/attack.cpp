#include "crmt/attacks/attack.h"

#include "crmt/models/eval_mode_guard.h"

namespace crmt {

Batch Attack::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  EvalModeGuard eval(*net);
  return attack(net, batch, targets);
}

std::vector<size_t> resolve_targets(const Batch& batch, const std::vector<std::string>& names) {
  std::vector<size_t> targets;
  if (names.empty() || (names.size() == 1 && names[0] == "all")) {
    for (size_t m = 0; m < batch.modalities.size(); ++m) targets.push_back(m);
    return targets;
  }
  for (const auto& n : names) targets.push_back(batch.index_of(n));
  return targets;
}

}  // namespace crmt
