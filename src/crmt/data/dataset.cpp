#include "crmt/data/dataset.h"

#include "crmt/core/error.h"

namespace crmt {

std::vector<std::string> MultiModalDataset::modality_names() const {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return names;
}

Batch MultiModalDataset::batch(const at::Tensor& indices) const {
  Batch b;
  b.modalities = modality_names();
  for (const auto& x : inputs) b.inputs.push_back(x.index_select(0, indices));
  b.labels = labels.index_select(0, indices);
  b.present.assign(inputs.size(), true);
  return b;
}

Batch MultiModalDataset::all() const {
  Batch b;
  b.modalities = modality_names();
  b.inputs = inputs;
  b.labels = labels;
  b.present.assign(inputs.size(), true);
  return b;
}

MultiModalDataset MultiModalDataset::subset(const at::Tensor& indices) const {
  MultiModalDataset out = *this;
  for (auto& x : out.inputs) x = x.index_select(0, indices);
  out.labels = labels.index_select(0, indices);
  return out;
}

void MultiModalDataset::validate() const {
  if (!labels.defined() || labels.numel() == 0) fail("{}: the split is empty", source);
  if (labels.dim() != 1 || labels.scalar_type() != at::kLong) fail("{}: labels must be a 1-D int64 tensor", source);
  if (specs.size() != inputs.size() || specs.empty())
    fail("{}: {} modality specs for {} input tensors", source, specs.size(), inputs.size());
  auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo < 0 || hi >= num_classes())
    fail("{}: label {} is outside the {} known classes", source, lo < 0 ? lo : hi, num_classes());
  for (size_t m = 0; m < inputs.size(); ++m) {
    const auto& x = inputs[m];
    const auto& spec = specs[m];
    if (x.scalar_type() != at::kFloat) fail("{}: modality '{}' must be float32", source, spec.name);
    std::vector<int64_t> expected{size()};
    expected.insert(expected.end(), spec.shape.begin(), spec.shape.end());
    if (x.sizes().vec() != expected)
      fail("{}: modality '{}' has shape {} but [{}] was expected", source, spec.name,
           fmt::join(x.sizes().vec(), ","), fmt::join(expected, ","));
    if (!x.isfinite().all().item<bool>()) fail("{}: modality '{}' contains NaN or infinite values", source, spec.name);
  }
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
  if (train.size() - n_val < train.num_classes())
    fail("{}: {} training samples (after {} for validation) cannot cover its {} classes; raise data.train_size",
         train.source, train.size() - n_val, n_val, train.num_classes());
  DataSplits s;
  s.val = train.subset(perm.slice(0, train.size() - n_val, train.size()));
  s.train = train.subset(perm.slice(0, 0, train.size() - n_val));
  s.val.source = train.source + " (validation part)";
  s.test = std::move(test);
  return s;
}

}  // namespace crmt
