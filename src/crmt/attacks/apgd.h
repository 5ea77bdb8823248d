#pragma once
#include <cstdint>

#include "crmt/attacks/attack.h"

namespace crmt {

// Auto-PGD (Croce and Hein, ICML 2020) for the l2 threat model, the budget joint over the attacked
// modalities. Per sample: a random start on the sphere of radius eps, a step size that starts at
// 2 eps and halves at checkpoints where the loss stopped rising (fewer than `rho` of the steps since
// the last checkpoint raised it, or neither the step size nor the best loss changed), momentum
// `alpha` on the iterates, a restart from the best point after each halving, and `restarts` random
// restarts run on the samples no earlier restart has broken. A fixed budget of iterations, no step
// size to tune: the attack FGM and 4-step PGD cannot be blamed for being too weak to report.
enum class ApgdLoss {
  cross_entropy,
  dlr,    // difference of logits ratio: -(z_y - max_{k != y} z_k) / (z_pi1 - z_pi3), scale-invariant
  both,   // cross-entropy restarts, then DLR restarts on the samples still classified correctly
};

struct ApgdSettings {
  double eps = 0.5;
  int iterations = 100;
  int restarts = 1;
  ApgdLoss loss = ApgdLoss::both;
  double alpha = 0.75;  // momentum weight of the new step
  double rho = 0.75;    // share of rising steps below which a checkpoint halves the step
  uint64_t seed = 0;
};

class ApgdL2 : public Attack {
 public:
  explicit ApgdL2(ApgdSettings s) : s_(s) {}
  std::string name() const override;

 protected:
  Batch attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const override;

 private:
  ApgdSettings s_;
};

// The iterations (1-based, < iterations) after which APGD checks its progress: w_1 = 0.22 N, then
// w_{j+1} = w_j + max(w_j - w_{j-1} - 0.03 N, 0.06 N) (p_j of the paper, in whole iterations).
std::vector<int> apgd_checkpoints(int iterations);

// Per-sample DLR loss [N] of logits [N, K] (K >= 3) against labels [N].
at::Tensor dlr_loss(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace crmt
