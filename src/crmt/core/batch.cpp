#include "crmt/core/batch.h"

#include "crmt/core/error.h"

namespace crmt {

int64_t Batch::size() const { return labels.defined() ? labels.size(0) : (inputs.empty() ? 0 : inputs[0].size(0)); }

size_t Batch::index_of(const std::string& name) const {
  for (size_t i = 0; i < modalities.size(); ++i)
    if (modalities[i] == name) return i;
  fail("unknown modality '{}': this data has {}", name, fmt::join(modalities, ", "));
}

Batch Batch::to(const c10::Device& device) const {
  Batch out = *this;
  const bool to_gpu = device.is_cuda();
  auto move = [&](const at::Tensor& x) {
    if (!x.defined() || x.device() == device) return x;
    if (to_gpu && x.is_cpu()) return (x.is_pinned() ? x : x.pin_memory()).to(device, /*non_blocking=*/true);
    return x.to(device);
  };
  for (auto& x : out.inputs) x = move(x);
  out.labels = move(labels);
  return out;
}

Batch Batch::clone() const {
  Batch out = *this;
  for (auto& x : out.inputs) x = x.detach().clone();
  out.labels = labels.clone();
  return out;
}

void Batch::validate() const {
  if (modalities.size() != inputs.size())
    fail("batch has {} modality names but {} input tensors", modalities.size(), inputs.size());
  if (present.size() != inputs.size())
    fail("batch has {} presence flags but {} input tensors", present.size(), inputs.size());
  if (!labels.defined() || labels.dim() != 1) fail("batch labels must be a 1-D tensor");
  for (size_t m = 0; m < inputs.size(); ++m)
    if (!inputs[m].defined() || inputs[m].size(0) != labels.size(0))
      fail("modality '{}' has {} samples but the batch has {} labels", modalities[m],
           inputs[m].defined() ? inputs[m].size(0) : 0, labels.size(0));
}

}  // namespace crmt
