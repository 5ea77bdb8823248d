#include "crmt/core/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "crmt/core/error.h"

// LibTorch 2.4 replaced autocast's per-device setters by ones taking the device type; Debian's 1.13
// has only the old ones. The same source builds against both.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CRMT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace crmt {

namespace {

void set_enabled(c10::DeviceType type, bool on) {
#ifdef CRMT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, on);
#else
  if (type == c10::DeviceType::CUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
#endif
}

c10::ScalarType get_dtype(c10::DeviceType type) {
#ifdef CRMT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_dtype(c10::DeviceType type, c10::ScalarType dtype) {
#ifdef CRMT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

}  // namespace

bool autocast_enabled(c10::DeviceType type) {
#ifdef CRMT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

Precision parse_precision(const std::string& name, const c10::Device& device, const std::string& key) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  if (name == "fp16") {
    if (!device.is_cuda())
      fail("{}: fp16 needs a CUDA device (autocast on the CPU computes in bf16); use bf16 or fp32 on {}", key, device.str());
    return Precision::FP16;
  }
  fail("{}: '{}' is not a precision (use fp32, bf16 or fp16)", key, name);
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::BF16: return "bf16";
    case Precision::FP16: return "fp16";
    default: return "fp32";
  }
}

AutocastScope::AutocastScope(const c10::Device& device, Precision precision) {
  if (precision == Precision::FP32) return;
  active_ = true;
  type_ = device.is_cuda() ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  was_enabled_ = autocast_enabled(type_);
  previous_dtype_ = get_dtype(type_);
  set_dtype(type_, precision == Precision::FP16 ? c10::ScalarType::Half : c10::ScalarType::BFloat16);
  set_enabled(type_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cache holds low-precision copies of the weights; the optimizer is about to change them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(type_, was_enabled_);
  set_dtype(type_, previous_dtype_);
}

Fp32Scope::Fp32Scope()
    : cpu_was_enabled_(autocast_enabled(c10::DeviceType::CPU)), cuda_was_enabled_(autocast_enabled(c10::DeviceType::CUDA)) {
  set_enabled(c10::DeviceType::CPU, false);
  set_enabled(c10::DeviceType::CUDA, false);
}

Fp32Scope::~Fp32Scope() {
  set_enabled(c10::DeviceType::CPU, cpu_was_enabled_);
  set_enabled(c10::DeviceType::CUDA, cuda_was_enabled_);
}

}  // namespace crmt
