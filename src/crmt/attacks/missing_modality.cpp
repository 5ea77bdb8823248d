#include "crmt/attacks/missing_modality.h"

#include "crmt/attacks/attack_registry.h"

namespace crmt {

CRMT_REGISTER_ATTACK({"missing", "", "the modality is absent: its input becomes zeros (the training mean)",
                      [](const AttackSpec&) { return std::make_unique<MissingModality>(); }});

Batch MissingModality::remove(const Batch& batch, const std::vector<size_t>& targets) {
  Batch out = batch;
  for (auto m : targets) {
    out.inputs[m] = torch::zeros_like(batch.inputs[m]);
    out.present[m] = false;
  }
  return out;
}

}  // namespace crmt
