#include "crmt/train/trainer.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/core/progress.h"
#include "crmt/data/loader.h"
#include "crmt/data/rank_share.h"
#include "crmt/models/eval_mode_guard.h"
#include "crmt/train/batch_norm_recalibration.h"
#include "crmt/train/checkpoint.h"
#include "crmt/train/loss_scaler.h"
#include "crmt/train/run_lock.h"

namespace crmt {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Trainer::Trainer(Config config, std::string out_dir, std::string architecture)
    : config_(std::move(config)),
      out_dir_(std::move(out_dir)),
      architecture_(std::move(architecture)),
      group_(collective()),
      parallel_(group_) {}

std::string Trainer::last_checkpoint() const { return (fs::path(out_dir_) / "last.pt").string(); }

const DataSplits& Trainer::data() const {
  if (!data_) fail("trainer has no data yet (fit() or set_data() first)");
  return *data_;
}

void Trainer::log(const nlohmann::json& record) {
  if (!group_.is_main()) return;
  fs::create_directories(out_dir_);
  std::ofstream f(fs::path(out_dir_) / "log.jsonl", std::ios::app);
  if (!f) fail("{}: cannot append to the training log", (fs::path(out_dir_) / "log.jsonl").string());
  f << record.dump() << "\n";
}

StepResult train_step(const TrainingContext::LossFn& loss, const TrainingContext::StepHook& before_step,
                      const Batch& batch, torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params,
                      const c10::Device& device, Precision precision, LossScaler& scaler, DataParallel* parallel) {
  StepResult step;
  {
    AutocastScope autocast(device, precision);  // the forward pass and the loss
    step = loss(batch);
  }
  optimizer.zero_grad();
  scaler.scaled(step.loss).backward();
  if (parallel) parallel->average_gradients(params, batch.size());
  const bool finite = scaler.unscale(params);
  if (before_step) before_step(batch, step);
  if (finite) optimizer.step();  // fp16: a step with overflowed gradients is skipped
  scaler.update(finite);
  return step;
}

double accuracy(MultiModalNet& net, const MultiModalDataset& data, int64_t batch_size, int workers) {
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net);
  int64_t correct = 0, seen = 0;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  auto& group = collective();
  Loader loader(rank_share(data, group), options);
  // Counted where the logits are: one host synchronisation at the end, not one per batch.
  auto hits = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(data.device));
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    hits += net->forward(*batch).logits.argmax(1).eq(batch->labels).sum();
    seen += batch->size();
  }
  correct = hits.item<int64_t>();
  if (group.distributed()) {
    auto counts = group.sum(torch::tensor({static_cast<double>(correct), static_cast<double>(seen)}, torch::kDouble));
    correct = static_cast<int64_t>(counts[0].item<double>()), seen = static_cast<int64_t>(counts[1].item<double>());
  }
  return seen > 0 ? static_cast<double>(correct) / seen : 0.0;
}

EpochStats Trainer::run_epoch(MultiModalNet& net, const MultiModalDataset& train, torch::optim::Optimizer& optimizer,
                              const LossFn& loss, const StepHook& before_step, uint64_t shuffle_seed,
                              const std::string& label, bool train_mode) {
  const int64_t batch_size = config_.integer("train.batch_size");
  if (batch_size <= 0) fail("train.batch_size must be positive, got {}", batch_size);
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = true;
  options.seed = shuffle_seed;
  options.workers = static_cast<int>(config_.integer("data.workers"));
  options.prefetch = static_cast<int>(config_.integer("data.prefetch"));
  options.rank = group_.rank();
  options.world_size = group_.world_size();
  Loader loader(train, options);
  const int64_t steps = loader.num_batches();
  const auto device = train.device;
  const auto precision = parse_precision(config_.str("train.precision"), device);
  if (!scaler_) scaler_ = std::make_unique<LossScaler>(precision == Precision::FP16);
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) params.push_back(p);
  // On a GPU the running loss and hit count stay on the device and are read every `sync_every`
  // steps: reading them each step would stall the host until the GPU caught up.
  const int64_t sync_every = device.is_cuda() ? 20 : 1;
  ProgressBar bar(label, steps, config_.boolean("output.progress") && group_.is_main());
  EpochStats stats;
  double loss_sum = 0;
  int64_t correct = 0, seen = 0, checked_to = 0;
  auto loss_sum_t = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  auto correct_t = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto start = Clock::now();
  net->train(train_mode);
  const LossFn step_loss_fn = noise_ ? noise_->wrap(loss) : loss;
  for (int64_t s = 0; s < steps; ++s) {
    auto batch = *loader.next();
    if (batch.size() == 0) {  // every sample of it was unreadable (and skipped)
      // The other ranks are already in this step's collectives: one rank cannot sit it out.
      if (group_.distributed())
        fail("{}: rank {} could read none of the samples of its part of batch {}; a distributed run cannot skip a "
             "batch on one rank (check the dataset, or train on one process)",
             label, group_.rank(), s);
      continue;
    }
    if (train_mode) parallel_.broadcast_buffers(net);
    if (noise_) batch = noise_->augment(batch);
    auto step = train_step(step_loss_fn, before_step, batch, optimizer, params, device, precision, *scaler_,
                           group_.distributed() ? &parallel_ : nullptr);
    const auto step_loss = step.loss.detach().to(torch::kDouble);
    const int64_t n = step.labels.size(0);
    loss_sum_t += step_loss * static_cast<double>(n);
    correct_t += step.logits.detach().argmax(1).eq(step.labels).sum();
    seen += n;
    if ((s + 1) % sync_every == 0 || s + 1 == steps) {
      const double running = loss_sum_t.item<double>();
      if (!std::isfinite(running)) {
        const auto last = last_checkpoint();
        const auto where = sync_every == 1 ? fmt::format("at step {}", s) : fmt::format("at a step in {}..{}", checked_to, s);
        fail("{}: the loss became {} {} (lower train.lr?); {}", label, running, where,
             fs::exists(last) ? "the last good checkpoint is " + last : std::string("no checkpoint was written yet"));
      }
      checked_to = s + 1;
      loss_sum = running;
      correct = correct_t.item<int64_t>();
      bar.update(s + 1, fmt::format("loss {:.4f} acc {:.1f}%", loss_sum / seen, 100.0 * correct / seen));
    }
  }
  if (group_.distributed()) {  // the epoch's figures over the global batch
    auto totals = group_.sum(torch::tensor({loss_sum, static_cast<double>(correct), static_cast<double>(seen)}, torch::kDouble));
    loss_sum = totals[0].item<double>();
    correct = static_cast<int64_t>(totals[1].item<double>()), seen = static_cast<int64_t>(totals[2].item<double>());
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stats.communication_seconds = parallel_.take_communication_seconds();
  stats.steps = steps;
  stats.samples = seen;
  stats.loss = seen ? loss_sum / seen : 0;
  stats.accuracy = seen ? static_cast<double>(correct) / seen : 0;
  bar.finish(fmt::format("loss {:.4f} acc {:.1f}% {:.0f} samples/s", stats.loss, 100 * stats.accuracy,
                         stats.samples_per_second()));
  return stats;
}

void Trainer::save(const std::string& path, const CheckpointInfo& info, MultiModalNet& net,
                   torch::optim::Optimizer* optimizer, const Method* method) {
  if (group_.is_main()) save_checkpoint(path, info, net, optimizer, method);
  group_.barrier();
}

double Trainer::validation_accuracy(MultiModalNet& net) {
  const auto& val = data().val;
  return val.size() > 0 ? accuracy(net, val, config_.integer("train.eval_batch_size"),
                                   static_cast<int>(config_.integer("data.workers")))
                        : -1;
}

void Trainer::load_last_weights(MultiModalNet& net) {
  if (!method_) fail("load_last_weights: only a final stage of fit() can switch to the last epoch's weights");
  (void)load_checkpoint(last_checkpoint(), architecture_, net, nullptr, method_);
}

double Trainer::keep_if_best(MultiModalNet& net, const std::string& stage) {
  if (!method_ || !info_) fail("keep_if_best: only a final stage of fit() can compete for the best checkpoint");
  const double val_acc = validation_accuracy(net);
  const bool improved = val_acc > info_->best_val_accuracy;
  if (improved) {
    info_->best_val_accuracy = val_acc;
    save((fs::path(out_dir_) / "best.pt").string(), *info_, net, nullptr, method_);
  }
  log({{"stage", stage}, {"val_accuracy", val_acc}, {"best", improved}});
  if (config_.boolean("output.progress") && group_.is_main())
    fmt::print(stderr, "  {}: validation accuracy {:.2f}%{}\n", stage, 100 * val_acc, improved ? " (best so far)" : "");
  return val_acc;
}

void Trainer::run_final_stages(MultiModalNet& net, Method& method, CheckpointInfo& info, const std::string& best_path) {
  const int workers = static_cast<int>(config_.integer("data.workers"));
  const int64_t recalibrate = config_.integer("train.bn_recalibrate_epochs");
  if (recalibrate < 0) fail("train.bn_recalibrate_epochs must be >= 0, got {}", recalibrate);
  method_ = &method;
  info_ = &info;
  struct Reset {
    Trainer* t;
    ~Reset() { t->method_ = nullptr, t->info_ = nullptr; }
  } reset{this};
  bool changed = false;
  switch (method.finish(net, *this)) {
    case FinalStage::none:
      break;
    case FinalStage::replaces_best:
      changed = true;
      break;
    case FinalStage::selected_by_validation:
      (void)load_checkpoint(best_path, architecture_, net, nullptr, &method);  // the winner
      changed = true;
      break;
  }
  if (recalibrate > 0) {
    const uint64_t seed = static_cast<uint64_t>(config_.integer("seed"));
    // Every rank re-estimates over the whole split: the same statistics everywhere, no collective.
    const auto layers = recalibrate_batch_norm(net, data().train, recalibrate, config_.integer("train.batch_size"),
                                               seed * 7919 + 500000, "batch-norm re-estimation",
                                               config_.boolean("output.progress") && group_.is_main(), workers);
    log({{"stage", "bn_recalibrate"}, {"epochs", recalibrate}, {"batch_norm_layers", layers}});
    changed = changed || layers > 0;
  }
  if (!changed) return;
  const double val_acc = validation_accuracy(net);
  info.best_val_accuracy = val_acc;
  info.finished = true;
  save(best_path, info, net, nullptr, &method);
  log({{"stage", "finish"}, {"method", method.name()}, {"val_accuracy", val_acc}});
  if (config_.boolean("output.progress") && group_.is_main())
    fmt::print(stderr, "  {} final stages: validation accuracy {:.2f}%\n", method.name(), 100 * val_acc);
}

TrainResult Trainer::fit(MultiModalNet& net, Method& method, const DataSplits& data, bool resume) {
  data_ = &data;
  const int64_t epochs = config_.integer("train.epochs");
  const double lr = config_.real("train.lr");
  const int64_t lr_step = config_.integer("train.lr_step");
  const double lr_gamma = config_.real("train.lr_gamma");
  const uint64_t seed = static_cast<uint64_t>(config_.integer("seed"));
  if (epochs < 0) fail("train.epochs must be >= 0, got {}", epochs);
  if (lr <= 0) fail("train.lr must be positive, got {}", lr);
  if (lr_step <= 0) fail("train.lr_step must be positive, got {}", lr_step);

  parallel_.broadcast_state(net);  // every rank starts from rank 0's weights
  std::vector<std::string> modalities;
  for (const auto& spec : net->specs()) modalities.push_back(spec.name);
  noise_ = NoiseTraining::from_config(config_, modalities);
  if (noise_ && noise_->compares_copies() && method.mixes_samples())
    fail("train.noise_consistency: method {} mixes the samples of a batch, so its noisy copies cannot be compared; "
         "train it with noise alone (train.noise_consistency=0 train.noise_entropy=0)",
         method.name());
  method.setup(net, data.train);
  auto parameters = net->parameters();
  for (auto& p : method.extra_parameters()) parameters.push_back(p);
  torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(lr)
                                                     .momentum(config_.real("train.momentum"))
                                                     .weight_decay(config_.real("train.weight_decay")));
  std::optional<RunLock> lock;  // one run per output folder (rank 0's)
  if (group_.is_main()) lock.emplace(out_dir_);
  const auto last_path = last_checkpoint();
  const auto best_path = (fs::path(out_dir_) / "best.pt").string();
  CheckpointInfo info;
  info.config_yaml = config_.to_yaml();
  info.architecture = architecture_;
  // A run killed before its first checkpoint has nothing to resume: it starts again, and says so.
  bool has_last = fs::exists(last_path);
  if (resume && group_.distributed()) {
    const double seen_by = group_.sum(has_last ? 1.0 : 0.0);
    if (seen_by != 0 && seen_by != group_.world_size())
      fail("--resume: rank {} {} {}, but not every rank does: output.dir must be on a filesystem all ranks share",
           group_.rank(), has_last ? "sees" : "does not see", last_path);
  }
  if (resume && !has_last) {
    if (group_.is_main()) fmt::print(stderr, "--resume: no checkpoint yet at {}; training from the start\n", last_path);
    resume = false;
  }
  if (resume) {
    auto loaded = load_checkpoint(last_path, architecture_, net, &optimizer, &method);
    info.epoch = loaded.epoch;
    info.best_val_accuracy = loaded.best_val_accuracy;
    if (group_.is_main())
      fmt::print(stderr, "resuming {} after epoch {} (best validation accuracy {:.2f}%)\n", last_path, loaded.epoch,
                 100 * loaded.best_val_accuracy);
  } else if (group_.is_main()) {
    fs::create_directories(out_dir_);
    fs::remove(fs::path(out_dir_) / "log.jsonl");
  }
  if (group_.is_main()) config_.save((fs::path(out_dir_) / "config.yaml").string());
  // Whatever world size wrote last.pt, every rank now holds its state; the method's own tensors
  // follow rank 0's too.
  parallel_.broadcast_state(net, method.extra_parameters());

  TrainResult result;
  auto start = Clock::now();
  double train_seconds = 0;
  int64_t train_samples = 0;
  const int64_t eval_bs = config_.integer("train.eval_batch_size");
  const int workers = static_cast<int>(config_.integer("data.workers"));
  LossFn loss = [&](const Batch& b) { return method.loss(net, b); };
  StepHook hook = [&](const Batch& b, const StepResult& s) { method.before_step(net, b, s); };
  for (int64_t epoch = info.epoch; epoch < epochs; ++epoch) {
    const double epoch_lr = lr * std::pow(lr_gamma, static_cast<double>(epoch / lr_step));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(epoch_lr);
    auto label = fmt::format("{} epoch {}/{}", method.name(), epoch + 1, epochs);
    auto stats = run_epoch(net, data.train, optimizer, loss, hook, seed * 1000003 + epoch, label);
    train_seconds += stats.seconds;
    train_samples += stats.samples;
    method.epoch_end(net, *this, epoch);
    const double val_acc = data.val.size() > 0 ? accuracy(net, data.val, eval_bs, workers) : stats.accuracy;
    info.epoch = epoch + 1;
    // Clips left out this epoch: said once, and kept in the log with the first few reasons.
    std::string skipped = data.train.bad->take_summary();
    if (auto val_skipped = data.val.bad->take_summary(); !val_skipped.empty())
      skipped += (skipped.empty() ? "validation: " : "; validation: ") + val_skipped;
    if (!skipped.empty()) {  // each rank reports the clips it met
      fmt::print(stderr, "  {}{}: {}\n", group_.distributed() ? fmt::format("rank {}: ", group_.rank()) : "", label, skipped);
      log({{"stage", "data"}, {"epoch", epoch + 1}, {"skipped", skipped}});
    }
    const bool improved = val_acc > info.best_val_accuracy;
    if (improved) info.best_val_accuracy = val_acc;
    // best.pt before last.pt: a run killed between the two redoes this epoch from the previous
    // last.pt and writes the same best.pt again. The other order would resume with this epoch's
    // accuracy as the best so far while best.pt still held an older epoch's weights.
    if (improved) save(best_path, info, net, nullptr, &method);
    save(last_path, info, net, &optimizer, &method);
    nlohmann::json record{{"stage", "train"},
                          {"epoch", epoch + 1},
                          {"lr", epoch_lr},
                          {"train_loss", stats.loss},
                          {"train_accuracy", stats.accuracy},
                          {"val_accuracy", val_acc},
                          {"best", improved},
                          {"seconds", stats.seconds},
                          {"samples_per_second", stats.samples_per_second()},
                          {"device", data.train.device.str()},
                          {"world_size", group_.world_size()},
                          {"steps", stats.steps},
                          {"communication_seconds", stats.communication_seconds},
                          {"precision", config_.str("train.precision")}};
    if (scaler_ && scaler_->enabled()) {
      record["loss_scale"] = scaler_->scale();
      record["skipped_steps"] = scaler_->skipped_steps();
    }
    log(record);
    if (config_.boolean("output.progress") && group_.is_main())
      fmt::print(stderr, "  validation accuracy {:.2f}%{}\n", 100 * val_acc, improved ? " (best so far)" : "");
  }
  // No epoch of this run wrote best.pt (train.epochs = 0): the current weights are the best, not
  // whatever an earlier run left in the folder.
  const bool write_best = group_.is_main() && (!fs::exists(best_path) || (!resume && info.epoch == 0));
  if (group_.sum(write_best ? 1.0 : 0.0) > 0) save(best_path, info, net, nullptr, &method);
  // A run killed after its final stages wrote best.pt resumes to that result, not to a second pass.
  const auto best_info = load_checkpoint(best_path, architecture_, net, nullptr, &method);
  if (best_info.finished) {
    info.best_val_accuracy = best_info.best_val_accuracy;
    if (group_.is_main())
      fmt::print(stderr, "--resume: {} already holds the result of {}'s final stages\n", best_path, method.name());
  } else {
    info.best_val_accuracy = best_info.best_val_accuracy;
    run_final_stages(net, method, info, best_path);
  }
  result.epochs = info.epoch;
  result.best_val_accuracy = info.best_val_accuracy;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.samples_per_second = train_seconds > 0 ? train_samples / train_seconds : 0;
  result.best_checkpoint = best_path;
  return result;
}

}  // namespace crmt
