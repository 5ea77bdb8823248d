#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/model_output.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// The one gradient-attack loop of crmt. FGM, l2-PGD, MEA, the official CRMT-AT generator, MMAT's
// examples and the certificate audit are all settings of it:
//   x_0 = x + start (clamped);  for k < steps:  g = grad of the objective at x_k,
//   delta = project(x_k + step(g) - x),  x_{k+1} = x + delta (clamped to the valid range).
// The model must already be in eval mode (Attack::perturb and the audit see to it).

// A quantity that is one number for the batch or one per sample ([N]), e.g. a certificate's radii.
struct PerSample {
  PerSample(double v = 0) : value(v) {}  // NOLINT: a plain number is the common case
  PerSample(at::Tensor v) : values(std::move(v)) {}  // NOLINT
  double value = 0;
  at::Tensor values;  // [N] when defined; then `value` is unused
  bool per_sample() const { return values.defined(); }
};

// How the gradient becomes a step.
enum class StepRule {
  // step * g / ||g||, the norm joint over the attacked modalities; a zero gradient gives no step.
  normalized,
  // step * g / sqrt(||g||^2 + 1e-6): the official CRMT code's generate_AT_sample.
  stabilized,
};

// Where the perturbation is kept.
enum class Projection {
  joint_l2_ball,   // ||delta|| <= radius, the norm joint over the attacked modalities
  elementwise_box, // |delta_i| <= radius for every entry (the official CRMT-AT)
};

struct GradientAttackSettings {
  int steps = 1;
  PerSample step_size;
  PerSample radius;
  StepRule rule = StepRule::normalized;
  Projection projection = Projection::joint_l2_ball;
  // Clamp every iterate to its modality's valid range (off for the audit: a certificate covers R^d).
  bool clamp_to_range = true;
  // Initial perturbation per attacked modality (default: none).
  std::vector<at::Tensor> start;
};

// The scalar to ascend, from the model's output on the current iterate (summed over the batch).
using AttackObjective = std::function<at::Tensor(const ModelOutput& output)>;

// Sees every iterate k = 0..steps before its step: the iterate, its perturbation per attacked
// modality and the model's output there. Returns the samples to stop (bool [N]; they keep their
// iterate from then on) or an undefined tensor. With an observer the loop also evaluates the last
// iterate.
using IterateObserver =
    std::function<at::Tensor(int iteration, const Batch& iterate, const std::vector<at::Tensor>& deltas,
                             const ModelOutput& output)>;

// Runs the loop on `targets` (indices into batch.modalities) and returns the last iterate.
Batch gradient_attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                      const AttackObjective& objective, const GradientAttackSettings& settings,
                      const IterateObserver& observe = {});

// Gradient of the objective w.r.t. the inputs of `targets` at `batch` (parameters untouched).
std::vector<at::Tensor> objective_gradients(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets,
                                            const AttackObjective& objective);

// The usual objective: cross-entropy of the fused logits against `labels`, summed over the batch.
AttackObjective cross_entropy_objective(const at::Tensor& labels);

}  // namespace crmt
