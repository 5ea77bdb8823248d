#pragma once
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "crmt/core/batch.h"
#include "crmt/core/config.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

struct StepResult;

struct EpochStats {
  double loss = 0, accuracy = 0;
  int64_t samples = 0;
  int64_t steps = 0;
  double seconds = 0;
  double communication_seconds = 0;  // distributed: rank 0's time in gradient and buffer exchange
  double samples_per_second() const { return seconds > 0 ? samples / seconds : 0; }
};

// What a method may see of the run it trains in: the config, the data, the log, and the one training
// loop for an extra stage. The Trainer is one; a method never sees the Trainer itself.
class TrainingContext {
 public:
  using LossFn = std::function<StepResult(const Batch&)>;
  using StepHook = std::function<void(const Batch&, const StepResult&)>;

  virtual ~TrainingContext() = default;
  virtual const Config& config() const = 0;
  virtual const DataSplits& data() const = 0;
  // Appends one record to the run's log.
  virtual void log(const nlohmann::json& record) = 0;
  // One shuffled pass over the training split minimizing `loss` with `optimizer` (the method's
  // own, so that e.g. its momentum carries over between the stage's epochs), through the same
  // loop as the main epochs. train_mode = false keeps batch-norm statistics frozen.
  virtual EpochStats run_stage(MultiModalNet& net, torch::optim::Optimizer& optimizer, const LossFn& loss,
                               uint64_t shuffle_seed, const std::string& label, bool train_mode) = 0;
  // Final stages only: replaces the model's weights (and the method's state) with those of the last
  // main epoch (out_dir/last.pt), for a stage that continues from them rather than from the best
  // checkpoint (the official CRMT code's step 2).
  virtual void load_last_weights(MultiModalNet& net) = 0;
  // Final stages only: validates `net` and, when it beats every checkpoint of the run so far, makes
  // it best.pt. Returns the validation accuracy (in [0, 1]; -1 without a validation split, which
  // never wins).
  virtual double keep_if_best(MultiModalNet& net, const std::string& stage) = 0;
};

}  // namespace crmt
