#include "crmt/attacks/gradient_engine.h"

#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"

namespace crmt {

namespace {

// The iterate with fresh leaves for the attacked inputs, and those leaves.
std::pair<Batch, std::vector<at::Tensor>> with_leaves(const Batch& batch, const std::vector<size_t>& targets) {
  Batch work = batch;
  std::vector<at::Tensor> leaves;
  for (auto m : targets) {
    work.inputs[m] = batch.inputs[m].detach().clone().requires_grad_(true);
    leaves.push_back(work.inputs[m]);
  }
  return {std::move(work), std::move(leaves)};
}

std::vector<at::Tensor> steps_along(const std::vector<at::Tensor>& grads, const GradientAttackSettings& s) {
  std::vector<at::Tensor> out;
  if (s.rule == StepRule::normalized) {
    auto direction = joint_normalize(grads);
    for (const auto& d : direction)
      out.push_back(s.step_size.per_sample() ? per_sample(s.step_size.values, d) * d : s.step_size.value * d);
    return out;
  }
  auto norm = (joint_squared_norm(grads) + 1e-6).sqrt();
  for (const auto& g : grads) {
    auto scaled = s.step_size.per_sample() ? per_sample(s.step_size.values, g) * g : s.step_size.value * g;
    out.push_back(scaled / per_sample(norm, g));
  }
  return out;
}

std::vector<at::Tensor> project(const std::vector<at::Tensor>& deltas, const GradientAttackSettings& s) {
  if (s.projection == Projection::joint_l2_ball)
    return s.radius.per_sample() ? project_joint_ball(deltas, s.radius.values) : project_joint_ball(deltas, s.radius.value);
  if (s.radius.per_sample()) fail("the element-wise box projection takes one radius for the batch");
  std::vector<at::Tensor> out;
  for (const auto& d : deltas) out.push_back(d.clamp(-s.radius.value, s.radius.value));
  return out;
}

}  // namespace

AttackObjective cross_entropy_objective(const at::Tensor& labels) {
  return [labels](const ModelOutput& out) {
    return torch::nn::functional::cross_entropy(
        out.logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  };
}

std::vector<at::Tensor> objective_gradients(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                                            const AttackObjective& objective) {
  const Fp32Scope fp32;
  torch::AutoGradMode enable(true);
  auto [work, leaves] = with_leaves(batch, targets);
  return torch::autograd::grad({objective(net->forward(work))}, leaves);
}

Batch gradient_attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                      const AttackObjective& objective, const GradientAttackSettings& s, const IterateObserver& observe) {
  const Fp32Scope fp32;  // also inside a mixed-precision training step (adversarial training)
  if (s.steps < 1) fail("a gradient attack needs at least one step, got {}", s.steps);
  if (!s.start.empty() && s.start.size() != targets.size())
    fail("a gradient attack's start has {} parts for {} attacked modalities", s.start.size(), targets.size());
  auto valid = [&](size_t m, const at::Tensor& x) {
    return s.clamp_to_range ? clamp_to_range(x, net->spec(batch.modalities[m])) : x;
  };
  Batch x = batch;
  std::vector<at::Tensor> deltas;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto m = targets[i];
    if (s.start.empty()) {
      deltas.push_back(torch::zeros_like(batch.inputs[m]));
    } else {
      deltas.push_back(s.start[i]);
      x.inputs[m] = valid(m, batch.inputs[m] + s.start[i]);
    }
  }
  if (targets.empty()) return x;
  at::Tensor stopped;
  for (int k = 0; k <= s.steps; ++k) {
    if (k == s.steps && !observe) break;
    torch::AutoGradMode enable(true);
    auto [work, leaves] = with_leaves(x, targets);
    auto output = net->forward(work);
    if (observe) {
      auto stop = observe(k, x, deltas, output);
      if (stop.defined()) stopped = stopped.defined() ? stopped | stop : stop;
    }
    if (k == s.steps) break;
    auto grads = torch::autograd::grad({objective(output)}, leaves);
    torch::NoGradGuard no_grad;
    auto moves = steps_along(grads, s);
    std::vector<at::Tensor> next;
    for (size_t i = 0; i < targets.size(); ++i) {
      const auto m = targets[i];
      if (stopped.defined()) moves[i] = moves[i] * per_sample(~stopped, moves[i]).to(moves[i].scalar_type());
      // Unclamped, the perturbation is the exact state; a clamp may have moved the iterate, so the
      // perturbation is re-read from it.
      next.push_back(s.clamp_to_range ? x.inputs[m] + moves[i] - batch.inputs[m] : deltas[i] + moves[i]);
    }
    deltas = project(next, s);
    for (size_t i = 0; i < targets.size(); ++i) {
      const auto m = targets[i];
      deltas[i] = deltas[i].detach();
      x.inputs[m] = valid(m, batch.inputs[m] + deltas[i]);
    }
  }
  return x;
}

}  // namespace crmt
