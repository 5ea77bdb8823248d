#pragma once
#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Maps (model, batch, attacked modalities) to a perturbed copy of the batch. Modalities outside
// `targets` (indices into batch.modalities) come back bit-identical; perturbed inputs stay inside
// their modality's valid range [lower, upper] (ModalitySpec).
class Attack {
 public:
  virtual ~Attack() = default;
  virtual std::string name() const = 0;
  virtual Batch perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const = 0;
};

// Indices of `names` in the batch ("all" or an empty list = every modality).
std::vector<size_t> resolve_targets(const Batch& batch, const std::vector<std::string>& names);

}  // namespace crmt
