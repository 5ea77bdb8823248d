// CRMT-AT. Source followed: the official CRMT code, GeWu-Lab/Certifiable-Robust-Multi-modal-Training,
// train.py: train_CRMT_AT replaces each batch by generate_AT_sample(..., epsilon = 0.1) (5 iterations,
// alpha = eps / 5, gradient of CE on the fused output divided per sample by
// sqrt(||g_v||^2 + ||g_a||^2 + 1e-6), perturbation clamped to [-2 eps, 2 eps] element-wise) and then
// minimizes CE + rho * L1 on it; after training, get_lip and the_second_step as for CRMT-JT.
// Differences: the perturbed input is also clamped to its modality's valid range (crmt attacks never
// leave it; this only shrinks the perturbation), and the gradients are taken in eval mode (the
// official code leaves the model in train mode, so its attack's forward passes also move the
// batch-norm statistics). L1 is crmt's log-space form with the official 1e-5 floor (crmt.l1_floor).
#include "crmt/methods/crmt_at.h"

#include "crmt/attacks/attack.h"
#include "crmt/attacks/gradient_attacks.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {

Batch CrmtAt::perturb(MultiModalNet& net, const Batch& batch, double eps, int steps, double step) {
  auto targets = resolve_targets(batch, {});
  Batch adv = batch;
  for (int t = 0; t < steps; ++t) {
    auto grads = input_gradients(net, adv, targets);
    torch::NoGradGuard no_grad;
    at::Tensor sq;
    for (auto& g : grads) {
      auto s = g.flatten(1).pow(2).sum(1);
      sq = sq.defined() ? sq + s : s;
    }
    auto norm = (sq + 1e-6).sqrt();
    for (size_t i = 0; i < targets.size(); ++i) {
      const auto m = targets[i];
      std::vector<int64_t> shape(grads[i].dim(), 1);
      shape[0] = grads[i].size(0);
      auto moved = adv.inputs[m] + step * grads[i] / norm.view(shape);
      auto delta = (moved - batch.inputs[m]).clamp(-2 * eps, 2 * eps);
      const ModalitySpec* spec = nullptr;
      for (const auto& s : net->specs())
        if (s.name == batch.modalities[m]) spec = &s;
      auto x = batch.inputs[m] + delta;
      adv.inputs[m] = spec ? clamp_to_range(x, *spec) : x;
    }
  }
  return adv;
}

StepResult CrmtAt::loss(MultiModalNet& net, const Batch& batch) {
  last_adv_ = perturb(net, batch, adv_.eps, adv_.steps, adv_.step_scale * adv_.eps);
  return Crmt::loss(net, last_adv_);
}

}  // namespace crmt
