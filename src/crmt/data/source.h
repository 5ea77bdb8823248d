#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/modality.h"

namespace crmt {

// How one sample is to be read: with the training split's random augmentation or the test
// transform, and the seed of that sample's random draws (the loader derives it from the run's seed,
// the epoch and the sample's index, so that any number of workers gives the same pixels).
struct SampleOptions {
  bool augment = false;
  uint64_t seed = 0;
  std::vector<bool> wanted;  // per modality of the source; empty = all (skipped ones come back undefined)
};

// One sample: a float32 tensor per modality (in the model's normalized space) and its label.
struct Sample {
  std::vector<at::Tensor> inputs;
  int64_t label = 0;
};

// Random access over the samples of one split, wherever they live: tensors in memory (the embedded
// and synthetic sets) or files on disk (Kinetics-Sounds, VGGSound, UCF101, CREMA-D). Implementations
// are immutable after construction and safe to read from several threads at once.
class Source {
 public:
  virtual ~Source() = default;
  virtual int64_t size() const = 0;
  virtual const ModalitySpecs& specs() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  // All labels, int64 [size()], known without reading any sample.
  virtual const at::Tensor& labels() const = 0;
  // What the source is, for messages: "data/ks (train)".
  virtual std::string name() const = 0;
  // What sample `row` is, for messages about it: a clip name, "sample 12".
  virtual std::string describe(int64_t row) const;
  // Reads sample `row`. File sources throw crmt::Error naming the file when it cannot be read.
  virtual Sample get(int64_t row, const SampleOptions& options) const = 0;
  // Whether the samples are tensors in memory (then gather() is one index_select per modality).
  virtual bool in_memory() const { return false; }
  // The samples `rows` (int64 [B]) stacked per modality. Only sources held in memory implement it.
  virtual std::vector<at::Tensor> gather(const at::Tensor& rows, const std::vector<bool>& wanted) const;
};

// How stored values become model inputs: (x * scale - mean) / stdev in float32, per batch read.
// The embedded set keeps its uint8 pixels and float16 spectrograms this way: 40% of the memory of
// normalizing everything at load, and the same float32 values (the same operations in the same order).
struct StoredScale {
  double scale = 1, mean = 0, stdev = 1;
};

// Samples that already are tensors: inputs[m] is [N, ...specs[m].shape], float32 in the model's
// space, or (with `stored`, one per modality) uint8, float16 or float32 values that stored[m] maps there.
class TensorSource : public Source {
 public:
  // Throws crmt::Error naming `name` when shapes, dtypes, label range or finiteness are wrong, or
  // when there are no samples.
  TensorSource(ModalitySpecs specs, std::vector<at::Tensor> inputs, at::Tensor labels,
               std::vector<std::string> class_names, std::string name, std::vector<StoredScale> stored = {});
  int64_t size() const override;
  const ModalitySpecs& specs() const override { return specs_; }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const at::Tensor& labels() const override { return labels_; }
  std::string name() const override { return name_; }
  Sample get(int64_t row, const SampleOptions& options) const override;
  bool in_memory() const override { return true; }
  std::vector<at::Tensor> gather(const at::Tensor& rows, const std::vector<bool>& wanted) const override;

 private:
  // Stored rows of modality m as model inputs (a new tensor when `stored_` maps them).
  at::Tensor to_input(size_t m, const at::Tensor& rows) const;

  ModalitySpecs specs_;
  std::vector<at::Tensor> inputs_;
  std::vector<StoredScale> stored_;
  at::Tensor labels_;
  std::vector<std::string> class_names_;
  std::string name_;
};

}  // namespace crmt
