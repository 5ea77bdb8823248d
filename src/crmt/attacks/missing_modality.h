#pragma once
#include "crmt/attacks/attack.h"

namespace crmt {

// Removes the target modalities: their inputs become zeros in the normalized space (the training
// mean, i.e. "no information") and their presence flags false. The model still runs its encoder
// on the zeros, as the paper's evaluation does.
class MissingModality : public Attack {
 public:
  std::string name() const override { return "missing"; }
  // The same removal without a model (methods drop modalities from training batches with it).
  static Batch remove(const Batch& batch, const std::vector<size_t>& targets);

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override {
    return remove(batch, targets);
  }
};

}  // namespace crmt
