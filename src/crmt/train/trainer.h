#pragma once
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "crmt/core/config.h"
#include "crmt/core/precision.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"
#include "crmt/core/collective.h"
#include "crmt/train/checkpoint.h"
#include "crmt/train/distributed/data_parallel.h"
#include "crmt/train/loss_scaler.h"
#include "crmt/train/method.h"
#include "crmt/train/noise_training.h"
#include "crmt/train/training_context.h"

namespace crmt {

struct TrainResult {
  int64_t epochs = 0;
  double best_val_accuracy = -1;
  double seconds = 0;
  double samples_per_second = 0;
  std::string best_checkpoint;
};

// One optimizer step of crmt's training loop on `batch`: the method's forward pass and loss under
// autocast (train.precision), backward of the (fp16: scaled) loss, the method's gradient hook, and
// the step of `optimizer` over `params` (skipped when fp16 gradients overflowed). No host
// synchronisation except fp16's overflow check. Trainer::run_epoch calls it for every batch. With
// `parallel`, gradients are averaged over the ranks right after backward: the hook, the overflow
// check and the step see the global batch's gradient.
StepResult train_step(const TrainingContext::LossFn& loss, const TrainingContext::StepHook& before_step,
                      const Batch& batch, torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params,
                      const c10::Device& device, Precision precision, LossScaler& scaler,
                      DataParallel* parallel = nullptr);

// Runs training for every method: SGD with momentum and weight decay, a step learning-rate
// schedule, validation each epoch keeping the best checkpoint, an atomic checkpoint per epoch,
// --resume, a progress bar and a JSON-lines log (out_dir/log.jsonl). Methods see it only as their
// TrainingContext. In a distributed run (collective(), train/distributed/) every rank runs it:
// train.batch_size is the global batch, each rank trains on its shard with averaged gradients,
// metrics are reduced over the ranks, and only rank 0 writes checkpoints, logs and progress
// (output.dir must be on a filesystem every rank sees: they read its checkpoints).
class Trainer : public TrainingContext {
 public:
  Trainer(Config config, std::string out_dir, std::string architecture);

  TrainResult fit(MultiModalNet& net, Method& method, const DataSplits& data, bool resume);

  // One shuffled pass over `train` minimizing `loss` with `optimizer`: the only training loop in
  // crmt. Main epochs and extra stages (CRMT step 2) both run through it.
  EpochStats run_epoch(MultiModalNet& net, const MultiModalDataset& train, torch::optim::Optimizer& optimizer,
                       const LossFn& loss, const StepHook& before_step, uint64_t shuffle_seed,
                       const std::string& label, bool train_mode = true);

  EpochStats run_stage(MultiModalNet& net, torch::optim::Optimizer& optimizer, const LossFn& loss,
                       uint64_t shuffle_seed, const std::string& label, bool train_mode) override {
    return run_epoch(net, data().train, optimizer, loss, {}, shuffle_seed, label, train_mode);
  }
  void load_last_weights(MultiModalNet& net) override;
  double keep_if_best(MultiModalNet& net, const std::string& stage) override;

  const Config& config() const override { return config_; }
  const DataSplits& data() const override;
  // The splits that hooks and extra stages read (fit() sets them; tests may set them directly).
  void set_data(const DataSplits& data) { data_ = &data; }
  const std::string& out_dir() const { return out_dir_; }
  // out_dir/last.pt: written after every epoch, what --resume continues from.
  std::string last_checkpoint() const;
  // Appends one record to log.jsonl.
  void log(const nlohmann::json& record) override;

 private:
  // Accuracy on the validation split, -1 without one (never the best).
  double validation_accuracy(MultiModalNet& net);
  // After the main epochs: the method's final stage, then batch-norm re-estimation
  // (train.bn_recalibrate_epochs); a result they changed is validated and saved as the finished best.
  void run_final_stages(MultiModalNet& net, Method& method, CheckpointInfo& info, const std::string& best_path);
  // Rank 0 writes the checkpoint; every rank waits until it is there.
  void save(const std::string& path, const CheckpointInfo& info, MultiModalNet& net, torch::optim::Optimizer* optimizer,
            const Method* method);

  Config config_;
  std::string out_dir_, architecture_;
  Collective& group_;
  DataParallel parallel_;
  const DataSplits* data_ = nullptr;
  std::unique_ptr<LossScaler> scaler_;  // fp16 only; kept across epochs and stages
  std::unique_ptr<NoiseTraining> noise_;  // train.gaussian_noise: every batch of every stage, when set
  // Set while fit() runs final stages, for load_last_weights and keep_if_best.
  Method* method_ = nullptr;
  CheckpointInfo* info_ = nullptr;
};

// Top-1 accuracy (in [0, 1]) of `net` in eval mode, batched. In a distributed run every rank
// evaluates its contiguous part of `data` and the counts are summed.
double accuracy(MultiModalNet& net, const MultiModalDataset& data, int64_t batch_size, int workers = 0);

}  // namespace crmt
