#include "crmt/core/device.h"

#include <torch/cuda.h>

#include "crmt/core/error.h"

namespace crmt {

bool cuda_available() { return torch::cuda::is_available(); }

c10::Device resolve_device(const std::string& spec, const std::string& key) {
  if (spec == "auto") return cuda_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec.rfind("cuda", 0) != 0)
    fail("{}: '{}' is not a device (use cpu, cuda, cuda:N or auto)", key, spec);
  int index = 0;
  if (spec != "cuda") {
    const auto n = spec.substr(4);
    if (n.size() < 2 || n[0] != ':' || n.find_first_not_of("0123456789", 1) != std::string::npos || n.size() > 4)
      fail("{}: '{}' is not a device (use cpu, cuda, cuda:N or auto)", key, spec);
    index = std::stoi(n.substr(1));
  }
  if (!cuda_available())
    fail("{}: '{}' asks for a GPU, but {}; use --device cpu", key, spec,
         torch::cuda::device_count() == 0 ? "this LibTorch build sees no CUDA device" : "CUDA is not usable");
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) fail("{}: '{}' asks for GPU {}, but this machine has {} (cuda:0..cuda:{})", key, spec, index, count, count - 1);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace crmt
