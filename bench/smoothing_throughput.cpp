// Where the time of randomized smoothing goes on a CPU: the noisy forward passes of the small-CNN
// encoder (crmt certify --bound smoothing spends nearly all its time there). Times each layer of
// one encoder on a batch of noisy copies, in NCHW and channels-last layouts.
//
//   crmt_smoothing_throughput --size 28 --batch 1000 --threads 2
#include <chrono>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include "crmt/core/runtime.h"
#include "crmt/models/small_cnn.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  CLI::App app{"time the small-CNN encoder's layers on a batch of noisy copies"};
  int64_t size = 28, batch = 1000, repeats = 5, embed = 64;
  int threads = 2;
  app.add_option("--size", size, "input height = width (visual 28, audio 32)")->capture_default_str();
  app.add_option("--batch", batch, "noisy copies per forward pass")->capture_default_str();
  app.add_option("--repeats", repeats, "timed passes")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  auto net = std::make_shared<crmt::SmallCnnImpl>(1, embed);
  net->eval();
  torch::InferenceMode guard;
  for (bool channels_last : {false, true}) {
    auto x = torch::randn({batch, 1, size, size});
    if (channels_last) {
      for (auto& p : net->parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      x = x.contiguous(at::MemoryFormat::ChannelsLast);
    }
    std::vector<double> seconds(net->body->size(), 0.0);
    double total = 0;
    for (int64_t r = 0; r <= repeats; ++r) {  // the first pass warms up
      auto h = x;
      const auto start = Clock::now();
      size_t i = 0;
      for (auto& layer : *net->body) {
        const auto t0 = Clock::now();
        h = layer.forward(h);
        if (r > 0) seconds[i] += std::chrono::duration<double>(Clock::now() - t0).count();
        ++i;
      }
      if (r > 0) total += std::chrono::duration<double>(Clock::now() - start).count();
    }
    fmt::print("{} layout, batch {}, {}x{}: {:.0f} samples/s\n", channels_last ? "channels-last" : "NCHW", batch, size,
               size, batch * repeats / total);
    for (size_t i = 0; i < seconds.size(); ++i)
      fmt::print("  {:2d} {:<24} {:7.2f} ms\n", i, net->body->ptr(i)->name(), 1000 * seconds[i] / repeats);
  }
  return 0;
}
