// Cost of bound propagation (crmt certify --bound crown) on one ResNet encoder per call: builds the
// graph, relaxes it on one ball and bounds the margins of `classes - 1` runner-up classes, and
// prints the time of each part, the neurons CROWN refined and the peak resident memory. For the
// paper's shapes, where a whole certificate is out of reach on a CPU (docs/certify.md).
//
//   crmt_crown_cost --shape 1,1024,128 --intermediate interval        # Kinetics-Sounds audio
//   crmt_crown_cost --shape 3,3,224,224 --intermediate interval       # its 3 frames
//   crmt_crown_cost --shape 1,32,32 --intermediate crown --width 64   # reduced input size
#include <sys/resource.h>

#include <chrono>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "crmt/certify/crown/bound_graph.h"
#include "crmt/certify/crown/crown.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/models/resnet.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  crmt::configure_allocator();
  CLI::App app{"time bound propagation through a ResNet at one input shape"};
  std::vector<int64_t> shape{1, 32, 32};
  std::string intermediate = "interval";
  int64_t width = 64, depth = 18, classes = 31, chunk = 1024;
  double radius = 0.01;
  int threads = 2;
  app.add_option("--shape", shape, "per-sample input [C, H, W] or [T, C, H, W]")->delimiter(',')->capture_default_str();
  app.add_option("--intermediate", intermediate, "crown | interval")->capture_default_str();
  app.add_option("--width", width, "stem channels (64 in the paper)")->capture_default_str();
  app.add_option("--depth", depth, "18 or 34")->capture_default_str();
  app.add_option("--classes", classes, "classes (Kinetics-Sounds: 31)")->capture_default_str();
  app.add_option("--radius", radius, "l2 radius of the ball")->capture_default_str();
  app.add_option("--chunk", chunk, "neurons refined per backward pass")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    const int64_t frames = shape.size() == 4 ? shape[0] : 1;
    crmt::ResNetImpl net(shape[shape.size() - 3], frames, depth, width);
    net.eval();
    auto seconds = [](Clock::time_point from) { return std::chrono::duration<double>(Clock::now() - from).count(); };
    auto t = Clock::now();
    crmt::CrownBounder bounder(crmt::bound_graph(net, shape), chunk, intermediate == "crown");
    const double build = seconds(t);
    const auto x0 = torch::randn(shape, torch::kDouble);
    t = Clock::now();
    bounder.relax(x0, radius);
    const double relax = seconds(t);
    t = Clock::now();
    const auto bound = bounder.lower(torch::randn({classes - 1, net.out_dim()}, torch::kDouble));
    const double lower = seconds(t);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    fmt::print("resnet{} width {} input [{}] intermediate {}: {} nodes; graph + first-layer norms {:.2f} s, relax {:.2f} s "
               "({} neurons refined), {} margins {:.2f} s; peak memory {:.0f} MiB\n",
               depth, width, fmt::join(shape, ", "), intermediate, bounder.graph().size(), build, relax,
               bounder.refined_neurons(), classes - 1, lower, usage.ru_maxrss / 1024.0);
    return bound.d.isfinite().all().item<bool>() ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "crmt_crown_cost: {}\n", e.what());
    return 1;
  }
}
