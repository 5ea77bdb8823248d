#include "crmt/attacks/noise_attacks.h"

#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

torch::Tensor joint_embedding(MultiModalNet& net, const Batch& batch) {
  return torch::cat(net->forward(batch).embeddings, 1);
}

}  // namespace

Batch GaussianNoise::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (!(sigma_ >= 0)) fail("mgn: the noise standard deviation must be >= 0, got {}", sigma_);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  Batch out = batch;
  for (auto m : targets) {
    auto noise = at::normal(0.0, 1.0, batch.inputs[m].sizes(), gen).to(batch.inputs[m].options());
    out.inputs[m] = clamp_to_range(batch.inputs[m] + sigma_ * noise, net->spec(batch.modalities[m]));
  }
  return out;
}

Batch PixelMissing::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (!(p_ >= 0 && p_ <= 1)) fail("mpm: the missing share must be in [0, 1], got {}", p_);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  Batch out = batch;
  for (auto m : targets) {
    auto keep = at::empty(batch.inputs[m].sizes(), torch::kFloat).uniform_(0, 1, gen).ge(p_);
    out.inputs[m] = batch.inputs[m] * keep.to(batch.inputs[m].options());
  }
  return out;
}

at::Tensor embedding_distance(MultiModalNet& net, const Batch& clean, const Batch& perturbed) {
  torch::NoGradGuard no_grad;
  const bool was_training = net->is_training();
  net->eval();
  auto d = (joint_embedding(net, perturbed) - joint_embedding(net, clean)).norm(2, 1);
  net->train(was_training);
  return d;
}

Batch EmbeddingAttack::perturb(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (!(eps_ >= 0)) fail("mea: eps must be >= 0, got {}", eps_);
  if (steps_ <= 0) fail("mea: steps must be positive, got {}", steps_);
  Batch out = batch;
  if (targets.empty() || eps_ == 0) return out;
  const bool was_training = net->is_training();
  net->eval();
  torch::Tensor clean_z;
  {
    torch::NoGradGuard no_grad;
    clean_z = joint_embedding(net, batch);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  std::vector<at::Tensor> deltas;
  for (auto m : targets) deltas.push_back(at::normal(0.0, 1.0, batch.inputs[m].sizes(), gen));
  deltas = joint_normalize(deltas);
  for (auto& d : deltas) d = d * (0.01 * eps_);
  const double alpha = 2.5 * eps_ / steps_;
  for (int step = 0; step <= steps_; ++step) {
    Batch work = batch;
    std::vector<torch::Tensor> leaves;
    for (size_t i = 0; i < targets.size(); ++i) {
      auto m = targets[i];
      work.inputs[m] = clamp_to_range(batch.inputs[m] + deltas[i], net->spec(batch.modalities[m])).detach().requires_grad_(true);
      leaves.push_back(work.inputs[m]);
    }
    if (step == steps_) {
      for (size_t i = 0; i < targets.size(); ++i) out.inputs[targets[i]] = leaves[i].detach();
      break;
    }
    auto distance = (joint_embedding(net, work) - clean_z).pow(2).sum();
    auto grads = joint_normalize(torch::autograd::grad({distance}, leaves));
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < targets.size(); ++i) deltas[i] = leaves[i] - batch.inputs[targets[i]] + alpha * grads[i];
    deltas = project_joint_ball(deltas, eps_);
  }
  net->train(was_training);
  return out;
}

}  // namespace crmt
