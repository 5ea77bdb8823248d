#include "crmt/attacks/attack.h"

namespace crmt {

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
