#include "crmt/attacks/missing_modality.h"

namespace crmt {

Batch MissingModality::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  Batch out = batch;
  for (auto m : targets) {
    out.inputs[m] = torch::zeros_like(batch.inputs[m]);
    out.present[m] = false;
  }
  return out;
}

}  // namespace crmt
