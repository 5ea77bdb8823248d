#include "crmt/attacks/noise_attacks.h"

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {

CRMT_REGISTER_ATTACK({"mgn", "sigma", "multi-modal Gaussian noise of standard deviation sigma",
                      [](const AttackSpec& s) { return std::make_unique<GaussianNoise>(s.eps, s.seed); }});
CRMT_REGISTER_ATTACK({"mpm", "p", "multi-modal pixel missing: each entry zeroed with probability p",
                      [](const AttackSpec& s) { return std::make_unique<PixelMissing>(s.eps, s.seed); }});

Batch GaussianNoise::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (!(sigma_ >= 0)) fail("mgn: the noise standard deviation must be >= 0, got {}", sigma_);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  Batch out = batch;
  for (auto m : targets) {
    auto noise = at::normal(0.0, 1.0, batch.inputs[m].sizes(), gen).to(batch.inputs[m].options());
    out.inputs[m] = clamp_to_range(batch.inputs[m] + sigma_ * noise, net->spec(batch.modalities[m]));
  }
  return out;
}

Batch PixelMissing::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (!(p_ >= 0 && p_ <= 1)) fail("mpm: the missing share must be in [0, 1], got {}", p_);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_);
  Batch out = batch;
  for (auto m : targets) {
    auto keep = at::empty(batch.inputs[m].sizes(), torch::kFloat).uniform_(0, 1, gen).ge(p_);
    out.inputs[m] = batch.inputs[m] * keep.to(batch.inputs[m].options());
  }
  return out;
}

}  // namespace crmt
