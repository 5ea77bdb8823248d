// Multi-modal mixup. Source followed: the official CRMT code (GeWu-Lab/Certifiable-Robust-Multi-
// modal-Training, train.py: mixup_data draws lam ~ np.random.beta(alpha, alpha) per batch and one
// torch.randperm shared by both modalities; mixup_criterion = lam CE(y_a) + (1 - lam) CE(y_b)),
// which is the multi-modal mixup baseline of Li et al. (ICASSP 2022). alpha = 1 as there.
#include "crmt/methods/mixup.h"

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/train/method_registry.h"

namespace crmt {

// Section mixup: mixup and crmt_mix
CRMT_REGISTER_CONFIG_SECTION("mixup", R"(
alpha: 1.0            # lambda ~ Beta(alpha, alpha)
)");
CRMT_REGISTER_METHOD({"mixup", "multi-modal mixup",
                      [](const Config& c) -> std::unique_ptr<Method> { return Mixup::from_config(c); }});

double mixup_alpha(const Config& config) {
  const double alpha = config.real("mixup.alpha");
  if (alpha < 0) fail("mixup.alpha must be >= 0, got {}", alpha);
  return alpha;
}

std::unique_ptr<Mixup> Mixup::from_config(const Config& config) { return std::make_unique<Mixup>(mixup_alpha(config)); }

StepResult Mixup::loss(MultiModalNet& net, const Batch& batch) {
  last_lambda_ = sample_beta(alpha_);
  last_perm_ = torch::randperm(batch.size(), torch::kLong);
  auto mixed = mix_batch(batch, last_lambda_, last_perm_);
  StepResult r = mixup_step(net, mixed);
  return r;
}

}  // namespace crmt
