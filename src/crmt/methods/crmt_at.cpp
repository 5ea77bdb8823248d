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

#include "crmt/attacks/pgd.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_METHOD({"crmt_at", "CRMT-AT: CRMT step 1 on the official generator's adversarial samples, then step 2",
                      [](const Config& c) -> std::unique_ptr<Method> {
                        return std::make_unique<CrmtAt>(CrmtSettings::from_config(c), AdversarialSettings::from_config(c));
                      }});

Batch CrmtAt::perturb(MultiModalNet& net, const Batch& batch, double eps, int steps, double step) {
  PgdSettings official;
  official.eps = 2 * eps;  // the box's half-width
  official.steps = steps;
  official.step_size = step;
  official.rule = StepRule::stabilized;
  official.projection = Projection::elementwise_box;
  return PgdL2(official).perturb(net, batch, resolve_targets(batch, {}));
}

StepResult CrmtAt::loss(MultiModalNet& net, const Batch& batch) {
  last_adv_ = perturb(net, batch, adv_.eps, adv_.steps, adv_.step_scale * adv_.eps);
  return Crmt::loss(net, last_adv_);
}

}  // namespace crmt
