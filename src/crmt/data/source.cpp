#include "crmt/data/source.h"

#include "crmt/core/error.h"

namespace crmt {

std::string Source::describe(int64_t row) const { return fmt::format("sample {}", row); }

std::vector<at::Tensor> Source::gather(const at::Tensor& rows, const std::vector<bool>& wanted) const {
  fail("{}: the samples are files, read them one by one with get()", name());
}

TensorSource::TensorSource(ModalitySpecs specs, std::vector<at::Tensor> inputs, at::Tensor labels,
                           std::vector<std::string> class_names, std::string name)
    : specs_(std::move(specs)),
      inputs_(std::move(inputs)),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)),
      name_(std::move(name)) {
  if (!labels_.defined() || labels_.numel() == 0) fail("{}: the split is empty", name_);
  if (labels_.dim() != 1 || labels_.scalar_type() != at::kLong) fail("{}: labels must be a 1-D int64 tensor", name_);
  if (specs_.size() != inputs_.size() || specs_.empty())
    fail("{}: {} modality specs for {} input tensors", name_, specs_.size(), inputs_.size());
  const auto classes = static_cast<int64_t>(class_names_.size());
  auto lo = labels_.min().item<int64_t>(), hi = labels_.max().item<int64_t>();
  if (lo < 0 || hi >= classes) fail("{}: label {} is outside the {} known classes", name_, lo < 0 ? lo : hi, classes);
  for (size_t m = 0; m < inputs_.size(); ++m) {
    const auto& x = inputs_[m];
    const auto& spec = specs_[m];
    if (x.scalar_type() != at::kFloat) fail("{}: modality '{}' must be float32", name_, spec.name);
    std::vector<int64_t> expected{size()};
    expected.insert(expected.end(), spec.shape.begin(), spec.shape.end());
    if (x.sizes().vec() != expected)
      fail("{}: modality '{}' has shape {} but [{}] was expected", name_, spec.name, fmt::join(x.sizes().vec(), ","),
           fmt::join(expected, ","));
    if (!x.isfinite().all().item<bool>()) fail("{}: modality '{}' contains NaN or infinite values", name_, spec.name);
  }
}

int64_t TensorSource::size() const { return labels_.size(0); }

Sample TensorSource::get(int64_t row, const SampleOptions& options) const {
  Sample s;
  s.label = labels_[row].item<int64_t>();
  for (size_t m = 0; m < inputs_.size(); ++m)
    s.inputs.push_back(options.wanted.empty() || options.wanted[m] ? inputs_[m][row] : at::Tensor());
  return s;
}

std::vector<at::Tensor> TensorSource::gather(const at::Tensor& rows, const std::vector<bool>& wanted) const {
  std::vector<at::Tensor> out;
  for (size_t m = 0; m < inputs_.size(); ++m)
    out.push_back(wanted.empty() || wanted[m] ? inputs_[m].index_select(0, rows) : at::Tensor());
  return out;
}

}  // namespace crmt
