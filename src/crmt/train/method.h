#pragma once
#include <torch/serialize/archive.h>

#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/model_output.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"
#include "crmt/train/training_context.h"

namespace crmt {

// What a method's final stage did to the model (Method::finish).
enum class FinalStage {
  none,                    // nothing ran: the best checkpoint stays the result
  replaces_best,           // the stage's result is the run's result, whatever its validation accuracy
  selected_by_validation,  // the stage's epochs competed on validation accuracy (TrainingContext::keep_if_best);
                           // best.pt holds the winner
};

// What a method computes for one training batch.
struct StepResult {
  torch::Tensor loss;    // scalar to minimize
  torch::Tensor logits;  // [N, K] for the running accuracy (on the samples the loss saw)
  torch::Tensor labels;  // [N] matching logits (mixup or adversarial methods may change the batch)
  ModelOutput output;    // the forward pass the loss came from, for hooks such as OGM-GE
};

// A training strategy: its loss for a batch plus optional hooks. The Trainer owns the one training
// loop; a method never iterates over data itself (a second stage asks its TrainingContext to run
// one). Methods register themselves by name (CRMT_REGISTER_METHOD, method_registry.h).
class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;
  // Once before the first epoch (also after --resume), with the training split.
  virtual void setup(MultiModalNet& net, const MultiModalDataset& train) {}
  // Trainable tensors the method owns besides the model's (e.g. Gradient Blending's uni-modal
  // heads). Created in the constructor or setup(); the trainer optimizes them with the model and
  // the method saves/loads them in save()/load().
  virtual std::vector<torch::Tensor> extra_parameters() { return {}; }
  virtual StepResult loss(MultiModalNet& net, const Batch& batch) = 0;
  // Whether loss() mixes the samples of a batch with each other (mixup): its logits then cannot be
  // compared copy by copy (train.noise_consistency refuses such a method).
  virtual bool mixes_samples() const { return false; }
  // After backward, before the optimizer step: gradients may be modulated here.
  virtual void before_step(MultiModalNet& net, const Batch& batch, const StepResult& step) {}
  // After each epoch of the main stage (0-based epoch); may run extra stages through the context.
  virtual void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) {}
  // After the main epochs, on the best checkpoint's weights (TrainingContext::load_last_weights
  // switches to the last epoch's): a final stage such as CRMT step 2.
  virtual FinalStage finish(MultiModalNet& net, TrainingContext& context) { return FinalStage::none; }
  // State that must survive --resume (blending weights, prototypes, ...).
  virtual void save(torch::serialize::OutputArchive& archive) const {}
  virtual void load(torch::serialize::InputArchive& archive) {}
};

}  // namespace crmt
