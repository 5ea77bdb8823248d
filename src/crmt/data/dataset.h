#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/modality.h"

namespace crmt {

// An in-memory multi-modal classification split: one float32 tensor per modality, already in the
// model's normalized space, and int64 labels. Every loader (embedded, npy features, ...) produces
// this, and training, attacks and certificates only ever see Batches cut from it.
struct MultiModalDataset {
  ModalitySpecs specs;               // one per modality, same order as inputs
  std::vector<at::Tensor> inputs;    // [N, ...spec.shape] float32
  at::Tensor labels;                 // [N] int64 in [0, class_names.size())
  std::vector<std::string> class_names;
  std::string source;                // where it came from (file or dataset name), for error messages

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  std::vector<std::string> modality_names() const;
  // The samples at `indices` (int64 [B]) as a Batch with every modality present.
  Batch batch(const at::Tensor& indices) const;
  // All samples as one Batch.
  Batch all() const;
  MultiModalDataset subset(const at::Tensor& indices) const;
  // Throws crmt::Error naming `source` when shapes, dtypes, label range or finiteness are wrong,
  // or when the split is empty.
  void validate() const;
};

struct DataSplits {
  MultiModalDataset train, val, test;
};

// Splits off the last `val_fraction` of a seeded permutation of `train` as the validation split.
DataSplits split_validation(MultiModalDataset train, MultiModalDataset test, double val_fraction, uint64_t seed);

}  // namespace crmt
