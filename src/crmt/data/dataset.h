#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/modality.h"
#include "crmt/data/bad_samples.h"
#include "crmt/data/source.h"

namespace crmt {

// One split as training, attacks and certificates see it: a view of some rows and modalities of a
// Source, with the split's transform (augmented for training) and what to do with unreadable
// samples. Copies are cheap and share the source. Samples are read only when a batch asks for them,
// so memory does not grow with the dataset.
struct MultiModalDataset {
  ModalitySpecs specs;               // of the selected modalities, in order
  at::Tensor labels;                 // [N] int64 in [0, class_names.size())
  std::vector<std::string> class_names;
  std::string source;                // what the split is, for error messages

  std::shared_ptr<const Source> samples;
  at::Tensor rows;                   // [N] int64: row i of the split is samples row rows[i]
  std::vector<size_t> modalities;    // selected modalities, as indices into samples->specs()
  bool augment = false;              // the training transform (random crops, flips, windows)
  c10::Device device{c10::kCPU};     // where batch() delivers; samples are read on the host
  OnBadSample on_bad = OnBadSample::Error;
  std::shared_ptr<BadSampleLog> bad = std::make_shared<BadSampleLog>();

  // All rows and modalities of `source`.
  static MultiModalDataset of(std::shared_ptr<const Source> source, bool augment = false,
                              OnBadSample on_bad = OnBadSample::Error);
  // Tensors in memory (see TensorSource: float32 inputs, or stored values and their `stored` scales);
  // throws crmt::Error naming `name` when they are invalid.
  static MultiModalDataset in_memory(ModalitySpecs specs, std::vector<at::Tensor> inputs, at::Tensor labels,
                                     std::vector<std::string> class_names, std::string name,
                                     std::vector<StoredScale> stored = {});

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  bool in_memory() const { return samples && samples->in_memory(); }
  std::vector<std::string> modality_names() const;
  // The samples at `indices` (int64 [B]) as a Batch with every modality present. `seed` drives the
  // training transform (sample row r uses a seed mixed from `seed` and r). Unreadable samples are
  // left out (on_bad == Skip; counted in `bad`) or throw crmt::Error naming the file.
  Batch batch(const at::Tensor& indices, uint64_t seed = 0) const;
  // The same batch in host memory (the Loader's workers read with it; `batch` = this + to(device)).
  Batch host_batch(const at::Tensor& indices, uint64_t seed = 0) const;
  // This view delivering its batches on `device`.
  MultiModalDataset on(const c10::Device& device) const;
  // All samples as one Batch (small in-memory sets; tests).
  Batch all() const;
  MultiModalDataset subset(const at::Tensor& indices) const;
  // Keeps the named modalities in that order; throws naming an unknown one.
  MultiModalDataset select(const std::vector<std::string>& names) const;
  // Throws crmt::Error naming `source` when the split is empty or its labels are out of range.
  void validate() const;
};

struct DataSplits {
  MultiModalDataset train, val, test;
  DataSplits on(const c10::Device& device) const { return {train.on(device), val.on(device), test.on(device)}; }
};

// Splits off the last `val_fraction` of a seeded permutation of `train` as the validation split
// (read without augmentation).
DataSplits split_validation(MultiModalDataset train, MultiModalDataset test, double val_fraction, uint64_t seed);

// The seed of sample `row` under the run's `seed` (splitmix64 of both).
uint64_t sample_seed(uint64_t seed, int64_t row);

}  // namespace crmt
