// Times crmt's own training steps (JT, CRMT step 1, CRMT-AT), l2-PGD, the paper's evaluation suite
// and the Lipschitz estimate on one device, the same work as bench/pytorch_gpu_bench.py does in
// PyTorch: at the paper's Kinetics-Sounds shapes with ResNet-18 for scripts/gpu-check.sh, or with
// --model small_cnn at the embedded data's shapes for bench/compare.py (make bench-compare).
// Writes one JSON file.
//
//   crmt_step_timer --device cuda --batch 64 --iters 10 --json out.json
//   crmt_step_timer --device cpu --small --iters 2      # a smoke run on a CPU
//   crmt_step_timer --device cpu --model small_cnn --threads 2 --precisions fp32
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "crmt/attacks/pgd.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/config.h"
#include "crmt/core/device.h"
#include "crmt/core/precision.h"
#include "crmt/core/runtime.h"
#include "crmt/eval/evaluator.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/method_registry.h"
#include "crmt/train/trainer.h"

namespace {

using namespace crmt;
using Clock = std::chrono::steady_clock;

struct Shapes {
  std::vector<int64_t> visual, audio;
  int64_t classes = 31;
  std::string encoder = "resnet18";
  int64_t embed_dim = 512;
  double visual_min = -std::numeric_limits<double>::infinity(), visual_max = std::numeric_limits<double>::infinity();
};

ModalitySpecs specs_of(const Shapes& s) {
  return {ModalitySpec{"visual", s.visual, s.visual_min, s.visual_max}, ModalitySpec{"audio", s.audio}};
}

Batch random_batch(const Shapes& s, int64_t n, const c10::Device& device) {
  Batch b;
  b.modalities = {"visual", "audio"};
  std::vector<int64_t> v{n}, a{n};
  v.insert(v.end(), s.visual.begin(), s.visual.end());
  a.insert(a.end(), s.audio.begin(), s.audio.end());
  auto visual = std::isfinite(s.visual_min) ? s.visual_min + (s.visual_max - s.visual_min) * torch::rand(v, device)
                                            : torch::randn(v, device);
  b.inputs = {visual, torch::randn(a, device)};
  b.labels = torch::randint(0, s.classes, {n}, torch::TensorOptions().dtype(torch::kLong).device(device));
  b.present = {true, true};
  return b;
}

// n random samples as an in-memory dataset on `device` (drawn on the host), classes named c0, c1, ...
MultiModalDataset random_dataset(const Shapes& s, int64_t n, const c10::Device& device) {
  auto host = random_batch(s, n, c10::Device(c10::kCPU));
  std::vector<std::string> classes;
  for (int64_t k = 0; k < s.classes; ++k) classes.push_back("c" + std::to_string(k));
  return MultiModalDataset::in_memory(specs_of(s), host.inputs, host.labels, classes, "random").on(device);
}

// The model as crmt train builds it on `device` (model.channels_last and cudnn_benchmark as given).
MultiModalNet model(const Shapes& s, const std::string& head, const c10::Device& device, bool nhwc, bool autotune) {
  torch::manual_seed(0);
  auto config = Config::load("", {"model.encoder=" + s.encoder, fmt::format("model.embed_dim={}", s.embed_dim),
                                  "model.head=" + head, fmt::format("model.channels_last={}", nhwc),
                                  fmt::format("cudnn_benchmark={}", autotune)});
  auto net = build_model(config, specs_of(s), s.classes);
  place_on_device(net, config, device);
  return net;
}

// Median milliseconds of `iters` calls of `f` after `warmup` calls, the device drained around each.
template <typename F>
double median_ms(int warmup, int iters, const c10::Device& device, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  synchronize(device);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    f();
    synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// median_ms, and then, when `trace` names a file (--profile), `iters` more calls under LibTorch's
// autograd profiler written there as a Chrome trace (bench/profile_table.py sums it per operator).
template <typename F>
double timed(const std::string& trace, int warmup, int iters, const c10::Device& device, F&& f) {
  const double ms = median_ms(warmup, iters, device, f);
  if (!trace.empty()) {
    torch::autograd::profiler::RecordProfile guard(trace);
    for (int i = 0; i < iters; ++i) f();
    synchronize(device);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  crmt::configure_allocator();
  CLI::App app{"crmt step timer: training steps, PGD and Lipschitz estimate at Kinetics-Sounds shapes"};
  std::string device_name = "auto", json_path, precisions = "fp32,bf16,fp16", workloads = "jt_step,crmt_step,pgd,lipschitz";
  std::string model_name = "resnet18", profile_dir;
  int64_t batch_size = 64, pgd_batch = 64, lipschitz_batch = 8;
  int warmup = 3, iters = 10, threads = 0;
  bool small = false, nchw = false, no_autotune = false;
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto");
  app.add_option("--batch", batch_size, "training batch");
  app.add_option("--pgd-batch", pgd_batch, "PGD batch");
  app.add_option("--lipschitz-batch", lipschitz_batch, "samples of the Lipschitz estimate");
  app.add_option("--warmup", warmup);
  app.add_option("--iters", iters);
  app.add_option("--precisions", precisions, "comma-separated: fp32,bf16,fp16 (training steps only)");
  app.add_option("--workloads", workloads, "comma-separated: jt_step,crmt_step,crmt_at_step,pgd,eval_suite,lipschitz");
  app.add_option("--model", model_name, "resnet18 (Kinetics-Sounds shapes) | small_cnn (the embedded data's shapes)")
      ->check(CLI::IsMember({"resnet18", "small_cnn"}));
  app.add_option("--threads", threads, "CPU intra-op threads (0 = all cores)");
  app.add_option("--json", json_path, "write the results here");
  app.add_option("--profile", profile_dir, "also profile each workload's iterations into DIR/<workload>.trace");
  app.add_flag("--small", small, "tiny shapes for a smoke run (frames 3x3x64x64, spectrogram 1x128x64)");
  app.add_flag("--nchw", nchw, "model.channels_last=false: convolutions in PyTorch's default NCHW memory");
  app.add_flag("--no-cudnn-benchmark", no_autotune, "cudnn_benchmark=false: cuDNN's heuristics instead of timing");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto device = resolve_device(device_name, "--device");
    configure_threads(threads);
    Shapes shapes{{3, 3, 224, 224}, {1, 1024, 128}, 31};
    if (small) shapes = Shapes{{3, 3, 64, 64}, {1, 128, 64}, 31};
    // The embedded data (data/embedded): normalized Fashion-MNIST images in [-0.8, 2.0], 32 x 32
    // spectrograms, 10 classes; crmt's small CNN of width 64, as configs/jt.yaml.
    if (model_name == "small_cnn") shapes = Shapes{{1, 28, 28}, {1, 32, 32}, 10, "small_cnn", 64, -0.8, 2.0};
    auto wanted = [](const std::string& list, const std::string& item) {
      return ("," + list + ",").find("," + item + ",") != std::string::npos;
    };
    nlohmann::json out{{"device", device.str()}, {"torch_version", TORCH_VERSION}, {"batch", batch_size},
                       {"settings", {{"channels_last", !nchw}, {"cudnn_benchmark", !no_autotune}, {"small", small},
                                     {"model", model_name}, {"threads", at::get_num_threads()}}},
                       {"results", nlohmann::json::array()}};
    auto record = [&](const std::string& workload, const std::string& precision, int64_t n, double ms, nlohmann::json extra) {
      const double rate = 1000.0 * static_cast<double>(n) / ms;
      std::cout << fmt::format("{:<10} {:<5} {:>5} {:>12.1f} {:>10.2f}  {}\n", workload, precision, n, rate, ms, extra.dump());
      out["results"].push_back({{"workload", workload}, {"precision", precision}, {"batch", n}, {"ms_per_iter", ms},
                                {"samples_per_second", rate}, {"iters", iters}, {"sanity", extra}});
      if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
    };
    std::cout << fmt::format("{:<10} {:<5} {:>5} {:>12} {:>10}  sanity\n", "workload", "prec", "batch", "samples/s", "ms/iter");
    auto trace = [&](const std::string& workload, const std::string& precision) {
      return profile_dir.empty() ? std::string() : fmt::format("{}/{}_{}.trace", profile_dir, workload, precision);
    };

    for (const auto& [workload, method, head] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"jt_step", "jt", "concat"}, {"crmt_step", "crmt_step1", "orthogonal"}, {"crmt_at_step", "crmt_at", "orthogonal"}}) {
      if (!wanted(workloads, workload)) continue;
      for (const auto& name : {"fp32", "bf16", "fp16"}) {
        if (!wanted(precisions, name)) continue;
        Precision precision;
        try {
          precision = parse_precision(name, device);
        } catch (const Error& e) {
          std::cout << fmt::format("{:<10} {:<5} skipped: {}\n", workload, name, e.what());
          continue;
        }
        auto net = model(shapes, head, device, !nchw, !no_autotune);
        auto m = build_method(Config::load("", {"train.method=" + method}));
        auto params = net->parameters();
        torch::optim::SGD opt(params, torch::optim::SGDOptions(1e-3).momentum(0.9).weight_decay(1e-4));
        LossScaler scaler(precision == Precision::FP16);
        auto batch = random_batch(shapes, batch_size, device);
        net->train();
        TrainingContext::LossFn loss = [&](const Batch& b) { return m->loss(net, b); };
        TrainingContext::StepHook hook = [&](const Batch& b, const StepResult& s) { m->before_step(net, b, s); };
        at::Tensor last_loss;
        auto step = [&] { last_loss = train_step(loss, hook, batch, opt, params, device, precision, scaler).loss.detach(); };
        const double ms = timed(trace(workload, name), warmup, iters, device, step);
        record(workload, name, batch_size, ms, {{"final_loss", last_loss.item<double>()}});
      }
    }
    if (wanted(workloads, "pgd")) {
      auto net = model(shapes, "concat", device, !nchw, !no_autotune);
      net->eval();
      auto batch = random_batch(shapes, pgd_batch, device);
      PgdL2 pgd(0.5, 4);
      at::Tensor hits;
      auto step = [&] {
        auto adv = pgd.perturb(net, batch, {0, 1});
        torch::NoGradGuard no_grad;
        hits = net->forward(adv).logits.argmax(1).eq(adv.labels).sum();
      };
      const double ms = timed(trace("pgd", "fp32"), warmup, iters, device, step);
      record("pgd", "fp32", pgd_batch, ms, {{"adv_accuracy", hits.item<double>() / pgd_batch}});
    }
    if (wanted(workloads, "eval_suite")) {
      // crmt eval --suite on one batch: clean, FGM and PGD at 0.5 on both modalities and at 1.0 on
      // each, each modality missing (the paper's settings).
      auto net = model(shapes, "concat", device, !nchw, !no_autotune);
      auto data = random_dataset(shapes, pgd_batch, device);
      const auto cases = standard_suite({"visual", "audio"}, 0.5, 4, 1.0);
      std::vector<double> accuracy;
      auto step = [&] {
        accuracy.clear();
        for (const auto& c : cases) accuracy.push_back(evaluate(net, data, c, pgd_batch).accuracy);
      };
      const double ms = timed(trace("eval_suite", "fp32"), warmup, iters, device, step);
      record("eval_suite", "fp32", pgd_batch, ms, {{"suite_accuracy", accuracy}});
    }
    if (wanted(workloads, "lipschitz")) {
      auto net = model(shapes, "orthogonal", device, !nchw, !no_autotune);
      auto data = random_dataset(shapes, lipschitz_batch, device);
      LipschitzEstimate est;
      auto step = [&] { est = empirical_lipschitz(net, data, lipschitz_batch, lipschitz_batch); };
      const double ms = timed(trace("lipschitz", "fp32"), std::min(warmup, 1), std::max(1, iters / 3), device, step);
      record("lipschitz", "fp32", lipschitz_batch, ms, {{"tau_max", est.tau.max().item<double>()}});
    }
  } catch (const std::exception& e) {
    std::cerr << "crmt_step_timer: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
