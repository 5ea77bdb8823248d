#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// mixup.alpha, checked (>= 0); shared by mixup and crmt_mix.
double mixup_alpha(const Config& config);

// Multi-modal mixup (Zhang et al. 2018 extended to several modalities as in Li et al., ICASSP 2022,
// "On adversarial robustness of large-scale audio visual learning", and the official CRMT code's
// mixup_data/mixup_criterion): lambda ~ Beta(alpha, alpha) once per batch, one permutation of the
// batch applied to every modality, loss lambda CE(y_a) + (1 - lambda) CE(y_b).
class Mixup : public Method {
 public:
  explicit Mixup(double alpha) : alpha_(alpha) {}
  static std::unique_ptr<Mixup> from_config(const Config& config);
  std::string name() const override { return "mixup"; }
  bool mixes_samples() const override { return true; }
  StepResult loss(MultiModalNet& net, const Batch& batch) override;

  // What the last loss() drew (for tests and logs).
  double last_lambda() const { return last_lambda_; }
  const at::Tensor& last_permutation() const { return last_perm_; }

 private:
  double alpha_;
  double last_lambda_ = 1.0;
  at::Tensor last_perm_;
};

}  // namespace crmt
