#pragma once
#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Maps (model, batch, attacked modalities) to a perturbed copy of the batch. Modalities outside
// `targets` (indices into batch.modalities) come back bit-identical; perturbed inputs stay inside
// their modality's valid range [lower, upper] (ModalitySpec).
//
// perturb() is the one entry point: it puts the model in eval mode for the attack and gives it back
// in the caller's mode (also on an exception), so no attack handles modes itself.
class Attack {
 public:
  virtual ~Attack() = default;
  virtual std::string name() const = 0;
  Batch perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const;

 protected:
  // The attack proper; the model is in eval mode here.
  virtual Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const = 0;
};

// Indices of `names` in the batch ("all" or an empty list = every modality).
std::vector<size_t> resolve_targets(const Batch& batch, const std::vector<std::string>& names);

}  // namespace crmt
