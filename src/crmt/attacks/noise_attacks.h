#pragma once
#include "crmt/attacks/attack.h"

namespace crmt {

// Multi-modal Gaussian noise (MGN, appendix 8.2): x + sigma * N(0, I) on every target modality,
// clamped to the valid range. Seeded, so an evaluation is repeatable.
class GaussianNoise : public Attack {
 public:
  GaussianNoise(double sigma, uint64_t seed = 0) : sigma_(sigma), seed_(seed) {}
  std::string name() const override { return "mgn"; }

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double sigma_;
  uint64_t seed_;
};

// Multi-modal pixel missing (MPM): every input entry of every target modality is set, independently
// with probability p, to 0 in normalized space (the training mean, as for a missing modality).
class PixelMissing : public Attack {
 public:
  PixelMissing(double p, uint64_t seed = 0) : p_(p), seed_(seed) {}
  std::string name() const override { return "mpm"; }

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double p_;
  uint64_t seed_;
};

}  // namespace crmt
