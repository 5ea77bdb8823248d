#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace crmt {

// One mini-batch of multi-modal samples: a tensor per named modality (leading dimension N), the
// labels, and which modalities are present. A missing modality keeps its slot (zeros) so that every
// model sees the same number of inputs.
struct Batch {
  std::vector<std::string> modalities;
  std::vector<at::Tensor> inputs;
  at::Tensor labels;  // int64 [N]
  std::vector<bool> present;

  int64_t size() const;
  size_t num_modalities() const { return inputs.size(); }
  // Index of a modality by name; throws crmt::Error naming the known modalities.
  size_t index_of(const std::string& name) const;
  // The batch on `device`. To a GPU the inputs go through page-locked memory without blocking the
  // host (the copy is queued on the current stream, ahead of the step that reads it).
  Batch to(const c10::Device& device) const;
  // Detached copy whose input tensors can be modified without touching this batch.
  Batch clone() const;
  // Throws crmt::Error when sizes disagree (different N, missing labels, names vs inputs).
  void validate() const;
};

}  // namespace crmt
