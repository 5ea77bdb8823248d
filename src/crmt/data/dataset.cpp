#include "crmt/data/dataset.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "crmt/core/error.h"

namespace crmt {

uint64_t sample_seed(uint64_t seed, int64_t row) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(row) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

MultiModalDataset MultiModalDataset::of(std::shared_ptr<const Source> source, bool augment, OnBadSample on_bad) {
  if (!source) fail("a dataset needs a source");
  MultiModalDataset d;
  d.specs = source->specs();
  d.labels = source->labels();
  d.class_names = source->class_names();
  d.source = source->name();
  d.rows = at::arange(source->size(), at::kLong);
  for (size_t m = 0; m < d.specs.size(); ++m) d.modalities.push_back(m);
  d.augment = augment;
  d.on_bad = on_bad;
  d.samples = std::move(source);
  return d;
}

MultiModalDataset MultiModalDataset::in_memory(ModalitySpecs specs, std::vector<at::Tensor> inputs, at::Tensor labels,
                                               std::vector<std::string> class_names, std::string name,
                                               std::vector<StoredScale> stored) {
  return of(std::make_shared<TensorSource>(std::move(specs), std::move(inputs), std::move(labels),
                                           std::move(class_names), std::move(name), std::move(stored)));
}

std::vector<std::string> MultiModalDataset::modality_names() const {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return names;
}

namespace {

// Stacks the samples read from a file source; leaves out (and logs) the ones that fail when the
// policy says so.
Batch read_files(const MultiModalDataset& d, const at::Tensor& source_rows, uint64_t seed) {
  const auto& src = *d.samples;
  SampleOptions opt;
  opt.augment = d.augment;
  opt.wanted.assign(src.specs().size(), false);
  for (auto m : d.modalities) opt.wanted[m] = true;
  std::vector<std::vector<at::Tensor>> parts(d.modalities.size());
  std::vector<int64_t> labels;
  const auto* rows = source_rows.data_ptr<int64_t>();
  for (int64_t i = 0; i < source_rows.numel(); ++i) {
    opt.seed = sample_seed(seed, rows[i]);
    Sample s;
    try {
      s = src.get(rows[i], opt);
      for (size_t k = 0; k < d.modalities.size(); ++k) {
        const auto& x = s.inputs.at(d.modalities[k]);
        if (!x.defined() || x.sizes().vec() != d.specs[k].shape)
          fail("{}: modality '{}' has shape [{}] but [{}] was expected", src.describe(rows[i]), d.specs[k].name,
               x.defined() ? fmt::format("{}", fmt::join(x.sizes().vec(), ",")) : "", fmt::join(d.specs[k].shape, ","));
      }
    } catch (const Error& e) {
      if (d.on_bad == OnBadSample::Error) throw;
      d.bad->add(e.what());
      continue;
    }
    for (size_t k = 0; k < d.modalities.size(); ++k) parts[k].push_back(s.inputs[d.modalities[k]]);
    labels.push_back(s.label);
  }
  Batch b;
  b.modalities = d.modality_names();
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k].empty()) {
      std::vector<int64_t> shape{0};
      shape.insert(shape.end(), d.specs[k].shape.begin(), d.specs[k].shape.end());
      b.inputs.push_back(at::zeros(shape, at::kFloat));
    } else {
      b.inputs.push_back(at::stack(parts[k]));
    }
  }
  b.labels = at::tensor(labels, at::kLong);
  b.present.assign(parts.size(), true);
  return b;
}

}  // namespace

Batch MultiModalDataset::batch(const at::Tensor& indices, uint64_t seed) const {
  auto b = host_batch(indices.cpu(), seed);
  return device.is_cpu() ? b : b.to(device);
}

MultiModalDataset MultiModalDataset::on(const c10::Device& target) const {
  MultiModalDataset out = *this;
  out.device = target;
  return out;
}

Batch MultiModalDataset::host_batch(const at::Tensor& indices, uint64_t seed) const {
  if (!samples) fail("{}: the dataset has no samples", source);
  const auto source_rows = rows.index_select(0, indices);
  if (!samples->in_memory()) return read_files(*this, source_rows.contiguous(), seed);
  std::vector<bool> wanted(samples->specs().size(), false);
  for (auto m : modalities) wanted[m] = true;
  auto all_inputs = samples->gather(source_rows, wanted);
  Batch b;
  b.modalities = modality_names();
  for (auto m : modalities) b.inputs.push_back(all_inputs[m]);
  b.labels = labels.index_select(0, indices);
  b.present.assign(modalities.size(), true);
  return b;
}

Batch MultiModalDataset::all() const { return batch(at::arange(size(), at::kLong)); }

MultiModalDataset MultiModalDataset::subset(const at::Tensor& indices) const {
  MultiModalDataset out = *this;
  out.rows = rows.index_select(0, indices);
  out.labels = labels.index_select(0, indices);
  return out;
}

MultiModalDataset MultiModalDataset::select(const std::vector<std::string>& names) const {
  MultiModalDataset out = *this;
  out.specs.clear();
  out.modalities.clear();
  const auto have = modality_names();
  for (const auto& name : names) {
    auto it = std::find(have.begin(), have.end(), name);
    if (it == have.end()) fail("data.modalities: '{}' is not a modality of {} (it has {})", name, source, fmt::join(have, ", "));
    const auto k = static_cast<size_t>(it - have.begin());
    out.specs.push_back(specs[k]);
    out.modalities.push_back(modalities[k]);
  }
  return out;
}

void MultiModalDataset::validate() const {
  if (!labels.defined() || labels.numel() == 0) fail("{}: the split is empty", source);
  if (labels.dim() != 1 || labels.scalar_type() != at::kLong) fail("{}: labels must be a 1-D int64 tensor", source);
  if (specs.empty() || specs.size() != modalities.size()) fail("{}: no modality selected", source);
  auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo < 0 || hi >= num_classes())
    fail("{}: label {} is outside the {} known classes", source, lo < 0 ? lo : hi, num_classes());
}

DataSplits split_validation(MultiModalDataset train, MultiModalDataset test, double val_fraction, uint64_t seed) {
  if (val_fraction < 0 || val_fraction >= 1) fail("data.val_fraction must be in [0, 1), got {}", val_fraction);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto perm = at::randperm(train.size(), gen, at::kLong);
  int64_t n_val = static_cast<int64_t>(val_fraction * train.size());
  // A validation share that rounds to no sample would silently pick the best epoch by training
  // accuracy; a training split smaller than the class count cannot teach every class.
  if (val_fraction > 0 && n_val == 0)
    fail("data.val_fraction: {} of the {} training samples of {} is no sample; raise it, or set 0 to choose the best "
         "epoch by training accuracy",
         val_fraction, train.size(), train.source);
  // The classes the source has samples of (a small stand-in of a real dataset may use only a few of
  // its classes; a subset of it must still cover those).
  const int64_t classes = std::get<0>(at::_unique(train.samples ? train.samples->labels() : train.labels)).numel();
  if (train.size() - n_val < classes)
    fail("{}: {} training samples (after {} for validation) cannot cover its {} classes; raise data.train_size",
         train.source, train.size() - n_val, n_val, classes);
  DataSplits s;
  s.val = train.subset(perm.slice(0, train.size() - n_val, train.size()));
  s.val.augment = false;
  s.val.on_bad = test.on_bad;
  s.val.bad = std::make_shared<BadSampleLog>();
  s.train = train.subset(perm.slice(0, 0, train.size() - n_val));
  s.val.source = train.source + " (validation part)";
  s.test = std::move(test);
  return s;
}

}  // namespace crmt
