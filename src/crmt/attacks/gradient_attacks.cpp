#include "crmt/attacks/gradient_attacks.h"

#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {


}  // namespace

std::vector<at::Tensor> input_gradients(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) {
  EvalModeGuard guard(*net);  // attacks always run in eval mode
  Batch work = batch;
  std::vector<torch::Tensor> leaves;
  for (auto m : targets) {
    work.inputs[m] = batch.inputs[m].detach().clone().requires_grad_(true);
    leaves.push_back(work.inputs[m]);
  }
  auto loss = torch::nn::functional::cross_entropy(net->forward(work).logits, batch.labels,
                                                   torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  return torch::autograd::grad({loss}, leaves);
}

Batch Fgm::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (eps_ < 0) fail("fgm: eps must be >= 0, got {}", eps_);
  Batch out = batch;
  if (targets.empty() || eps_ == 0) return out;
  auto direction = joint_normalize(input_gradients(net, batch, targets));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < targets.size(); ++i) {
    auto m = targets[i];
    out.inputs[m] = clamp_to_range(batch.inputs[m] + eps_ * direction[i], net->spec(batch.modalities[m]));
  }
  return out;
}

Batch PgdL2::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (eps_ < 0) fail("pgd: eps must be >= 0, got {}", eps_);
  if (steps_ <= 0) fail("pgd: steps must be positive, got {}", steps_);
  Batch out = batch;
  if (targets.empty() || eps_ == 0) return out;
  const double alpha = step_size_ > 0 ? step_size_ : eps_ / 3.0;
  for (int step = 0; step < steps_; ++step) {
    auto direction = joint_normalize(input_gradients(net, out, targets));
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> deltas;
    for (size_t i = 0; i < targets.size(); ++i)
      deltas.push_back(out.inputs[targets[i]] + alpha * direction[i] - batch.inputs[targets[i]]);
    deltas = project_joint_ball(deltas, eps_);
    for (size_t i = 0; i < targets.size(); ++i) {
      auto m = targets[i];
      out.inputs[m] = clamp_to_range(batch.inputs[m] + deltas[i], net->spec(batch.modalities[m]));
    }
  }
  return out;
}

}  // namespace crmt
