#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace crmt {

// train.precision: what the forward pass of a training step computes in. Weights, optimizer state,
// gradients and everything outside the training step stay in fp32.
enum class Precision { FP32, BF16, FP16 };

// Parses "fp32" | "bf16" | "fp16"; throws crmt::Error naming `key` otherwise, or when `device`
// cannot run it (fp16 autocast needs CUDA; bf16 works on CUDA and on CPUs).
Precision parse_precision(const std::string& name, const c10::Device& device, const std::string& key = "train.precision");
std::string precision_name(Precision precision);

// Autocast for one forward pass on `device` in `precision` (nothing for fp32): matrix products and
// convolutions run in the low precision, reductions and losses in fp32. Clears autocast's cache of
// cast weights on exit, so the next step sees the optimizer's update.
class AutocastScope {
 public:
  AutocastScope(const c10::Device& device, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Float;
};

// Switches autocast off (CPU and CUDA) for its lifetime: attacks, Lipschitz estimates and
// certificates always compute in fp32, also when called from inside a mixed-precision step (a
// radius computed in half precision is not a certificate).
class Fp32Scope {
 public:
  Fp32Scope();
  ~Fp32Scope();
  Fp32Scope(const Fp32Scope&) = delete;
  Fp32Scope& operator=(const Fp32Scope&) = delete;

 private:
  bool cpu_was_enabled_ = false, cuda_was_enabled_ = false;
};

// Whether autocast is on for `type` in this thread (tests).
bool autocast_enabled(c10::DeviceType type);

}  // namespace crmt
