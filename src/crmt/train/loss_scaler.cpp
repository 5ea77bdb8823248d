#include "crmt/train/loss_scaler.h"

#include <ATen/ATen.h>

namespace crmt {

LossScaler::LossScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(init_scale), growth_interval_(growth_interval) {}

at::Tensor LossScaler::scaled(const at::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool LossScaler::unscale(const std::vector<at::Tensor>& params) {
  if (!enabled_) return true;
  at::NoGradGuard no_grad;
  at::Tensor bad;  // accumulated on the device: one synchronisation below, not one per tensor
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    g.mul_(1.0 / scale_);
    auto here = at::isfinite(g).all().logical_not();
    bad = bad.defined() ? bad.logical_or(here) : here;
  }
  return !bad.defined() || !bad.item<bool>();
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ = std::max(scale_ * 0.5, 1.0);
    clean_steps_ = 0;
    ++skipped_;
    return;
  }
  if (++clean_steps_ >= growth_interval_) {
    scale_ = std::min(scale_ * 2.0, 16777216.0 * 256.0);
    clean_steps_ = 0;
  }
}

}  // namespace crmt
