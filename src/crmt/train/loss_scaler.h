#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace crmt {

// Dynamic loss scaling for fp16 training (what torch.amp.GradScaler does, which LibTorch's C++ API
// lacks). Half precision flushes gradients below ~6e-8 to zero, so the loss is multiplied by a large
// scale before backward; the gradients are divided by it again before the optimizer step. A step
// whose gradients hold inf or NaN is skipped and the scale halves; after `growth_interval` clean
// steps in a row it doubles. Disabled (fp32, bf16) it passes everything through.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }

  // loss * scale (the loss itself when disabled).
  at::Tensor scaled(const at::Tensor& loss) const;
  // Divides the gradients of `params` by the scale in place. Returns whether all of them are finite
  // (one host synchronisation per step; always true when disabled).
  bool unscale(const std::vector<at::Tensor>& params);
  // After the step: adapts the scale to whether the gradients were finite.
  void update(bool finite);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_;
  int64_t clean_steps_ = 0, skipped_ = 0;
};

}  // namespace crmt
