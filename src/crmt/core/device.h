#pragma once
#include <c10/core/Device.h>

#include <string>

namespace crmt {

// Where a run's tensors live. `spec` is "cpu", "cuda", "cuda:N" or "auto" (the first CUDA device
// when this LibTorch build sees one, else the CPU). Throws crmt::Error naming `key` when the spec
// is malformed or asks for a GPU this machine or build does not have.
c10::Device resolve_device(const std::string& spec, const std::string& key = "device");

// Whether this LibTorch was built with CUDA and sees at least one GPU.
bool cuda_available();

// Waits for the work queued on `device` (a no-op on the CPU): only for timing and benchmarks.
void synchronize(const c10::Device& device);

}  // namespace crmt
