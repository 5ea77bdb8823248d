#pragma once
#include "crmt/attacks/attack.h"

namespace crmt {

// Multi-modal embedding attack (MEA, after Zhang, Yi and Sang, ACM MM 2022): label-free l2 PGD that
// pushes the joint representation [phi(1); ...; phi(M)] of the perturbed input away from the clean
// one, maximizing ||z(x') - z(x)||_2^2 within the joint l2 ball of radius eps (valid range kept).
// Starts from a small random point in the ball, since the gradient vanishes at x' = x.
class EmbeddingAttack : public Attack {
 public:
  EmbeddingAttack(double eps, int steps = 10, uint64_t seed = 0) : eps_(eps), steps_(steps), seed_(seed) {}
  std::string name() const override { return "mea"; }

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  double eps_;
  int steps_;
  uint64_t seed_;
};

// ||z(x') - z(x)||_2 per sample [N] for the joint representation z (eval mode, no gradient).
at::Tensor embedding_distance(MultiModalNet& net, const Batch& clean, const Batch& perturbed);

}  // namespace crmt
