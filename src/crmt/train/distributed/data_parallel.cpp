#include "crmt/train/distributed/data_parallel.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <chrono>

namespace crmt {

namespace {
// Adds the scope's wall time to `total`.
struct Stopwatch {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~Stopwatch() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};
}  // namespace

double DataParallel::take_communication_seconds() {
  const double t = communication_seconds_;
  communication_seconds_ = 0;
  return t;
}

void DataParallel::broadcast_state(MultiModalNet& net, const std::vector<at::Tensor>& extra) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> state;
  for (auto& p : net->parameters()) state.push_back(p.data());
  for (auto& b : net->buffers()) state.push_back(b);
  for (auto& t : extra) state.push_back(t.data());
  group_.broadcast(state, 0);
}

void DataParallel::broadcast_buffers(MultiModalNet& net) {
  if (!active() || group_.sync_batch_norm) return;
  Stopwatch watch{communication_seconds_};
  std::vector<at::Tensor> buffers = net->buffers();
  if (!buffers.empty()) group_.broadcast(buffers, 0);
}

void DataParallel::average_gradients(const std::vector<at::Tensor>& params, int64_t local_samples) {
  if (!active()) return;
  Stopwatch watch{communication_seconds_};
  torch::NoGradGuard no_grad;
  // One small all-reduce first: which gradients exist where, and the global sample count.
  const auto n = static_cast<int64_t>(params.size());
  auto header = at::zeros({n + 1}, at::kDouble);
  auto* h = header.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) h[i] = params[i].grad().defined() ? 1 : 0;
  h[n] = static_cast<double>(local_samples);
  std::vector<at::Tensor> v{header};
  group_.all_reduce_sum(v);
  h = v[0].data_ptr<double>();
  const double total = h[n];
  const double weight = total > 0 ? static_cast<double>(local_samples) / total : 0.0;
  std::vector<at::Tensor> grads;
  for (int64_t i = 0; i < n; ++i) {
    if (h[i] == 0) continue;  // no rank has it
    auto p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    p.mutable_grad().mul_(weight);
    grads.push_back(p.grad());
  }
  group_.all_reduce_sum(grads);
}

}  // namespace crmt
