#include "crmt/attacks/embedding_attack.h"

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/gradient_engine.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

CRMT_REGISTER_ATTACK({"mea", "eps", "multi-modal embedding attack: label-free l2 PGD on the joint embedding",
                      [](const AttackSpec& s) { return std::make_unique<EmbeddingAttack>(s.eps, s.steps > 0 ? s.steps : 10, s.seed); }, true});

namespace {
torch::Tensor joint_embedding(const ModelOutput& out) { return torch::cat(out.embeddings, 1); }
}  // namespace

at::Tensor embedding_distance(MultiModalNet& net, const Batch& clean, const Batch& perturbed) {
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net);
  return (joint_embedding(net->forward(perturbed)) - joint_embedding(net->forward(clean))).norm(2, 1);
}

Batch EmbeddingAttack::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  const Fp32Scope fp32;
  if (!(eps_ >= 0)) fail("mea: eps must be >= 0, got {}", eps_);
  if (steps_ <= 0) fail("mea: steps must be positive, got {}", steps_);
  if (targets.empty() || eps_ == 0) return batch;
  torch::Tensor clean_z;
  {
    torch::NoGradGuard no_grad;
    clean_z = joint_embedding(net->forward(batch));
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  std::vector<at::Tensor> start;
  for (auto m : targets) start.push_back(at::normal(0.0, 1.0, batch.inputs[m].sizes(), gen));
  start = joint_normalize(start);
  for (auto& d : start) d = d * (0.01 * eps_);
  GradientAttackSettings engine;
  engine.steps = steps_;
  engine.step_size = 2.5 * eps_ / steps_;
  engine.radius = eps_;
  engine.start = start;
  auto objective = [clean_z](const ModelOutput& out) { return (joint_embedding(out) - clean_z).pow(2).sum(); };
  return gradient_attack(net, batch, targets, objective, engine);
}

}  // namespace crmt
