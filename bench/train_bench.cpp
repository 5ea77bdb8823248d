// Training and attack throughput on inputs shaped like the embedded dataset (visual 1x28x28,
// audio 1x32x32, 10 classes) with the small CNN encoders: samples per second per thread count.
// Run: ./build/crmt_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "crmt/attacks/pgd.h"
#include "crmt/core/config.h"
#include "crmt/train/method_registry.h"
#include "crmt/train/trainer.h"
#include "crmt/models/model_factory.h"

namespace {

using namespace crmt;

ModalitySpecs embedded_like_specs() {
  ModalitySpec visual{"visual", {1, 28, 28}, -0.8, 2.0};
  ModalitySpec audio{"audio", {1, 32, 32}};
  return {visual, audio};
}

Batch random_batch(int64_t n) {
  Batch b;
  b.modalities = {"visual", "audio"};
  b.inputs = {torch::randn({n, 1, 28, 28}).clamp(-0.8, 2.0), torch::randn({n, 1, 32, 32})};
  b.labels = torch::randint(0, 10, {n}, torch::kLong);
  b.present = {true, true};
  return b;
}

// Times crmt's training step (train_step: forward, backward, SGD step) of `config`'s model and
// method on one fixed batch.
void time_training(benchmark::State& state, const Config& config, const ModalitySpecs& specs, int64_t classes,
                   const Batch& batch, double lr) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  auto net = build_model(config, specs, classes);
  auto m = build_method(config);
  auto params = net->parameters();
  torch::optim::SGD opt(params, torch::optim::SGDOptions(lr).momentum(0.9));
  LossScaler fp32(false);
  TrainingContext::LossFn loss = [&](const Batch& b) { return m->loss(net, b); };
  TrainingContext::StepHook hook = [&](const Batch& b, const StepResult& r) { m->before_step(net, b, r); };
  net->train();
  for (auto _ : state) train_step(loss, hook, batch, opt, params, c10::Device(c10::kCPU), Precision::FP32, fp32);
  state.counters["samples_per_second"] =
      benchmark::Counter(static_cast<double>(batch.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(state.range(0));
}

void train_step(benchmark::State& state, const std::string& method, const std::string& head) {
  torch::manual_seed(0);
  auto batch = random_batch(64);
  time_training(state, Config::load("", {"train.method=" + method, "model.head=" + head}), embedded_like_specs(), 10,
                batch, 0.01);
}

void BM_TrainStepJT(benchmark::State& state) { train_step(state, "jt", "concat"); }
void BM_TrainStepCrmtStep1(benchmark::State& state) { train_step(state, "crmt_step1", "orthogonal"); }

void BM_PgdAttack(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  auto config = Config::load("", {});
  auto net = build_model(config, embedded_like_specs(), 10);
  net->eval();
  auto batch = random_batch(500);
  PgdL2 pgd(0.5, 4);
  for (auto _ : state) benchmark::DoNotOptimize(pgd.perturb(net, batch, {0, 1}).inputs[0].data_ptr());
  state.counters["samples_per_second"] = benchmark::Counter(500.0 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(state.range(0));
}

// JT with ResNet-18 encoders at the paper's Kinetics-Sounds shapes: 3 frames of 3x224x224 and a
// 1x1024x128 spectrogram, 31 classes, batch 8 (forward, backward, SGD step).
void BM_TrainStepResNet18KineticsSounds(benchmark::State& state) {
  torch::manual_seed(0);
  const int64_t n = 8;
  Batch batch;
  batch.modalities = {"visual", "audio"};
  batch.inputs = {torch::randn({n, 3, 3, 224, 224}), torch::randn({n, 1, 1024, 128})};
  batch.labels = torch::randint(0, 31, {n}, torch::kLong);
  batch.present = {true, true};
  ModalitySpecs specs{ModalitySpec{"visual", {3, 3, 224, 224}}, ModalitySpec{"audio", {1, 1024, 128}}};
  time_training(state, Config::load("", {"model.encoder=resnet18", "model.embed_dim=512"}), specs, 31, batch, 0.001);
}

}  // namespace

BENCHMARK(BM_TrainStepResNet18KineticsSounds)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_TrainStepJT)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStepCrmtStep1)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PgdAttack)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
