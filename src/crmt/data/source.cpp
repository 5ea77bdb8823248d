#include "crmt/data/source.h"

#include <algorithm>
#include <cmath>

#include "crmt/core/error.h"

namespace crmt {
namespace {

// Checked in slices: isfinite() of a whole split makes temporaries larger than the split itself,
// and the allocator keeps what a process freed (configure_allocator), so they would stay resident.
bool all_finite(const at::Tensor& x) {
  if (!at::isFloatingType(x.scalar_type())) return true;
  const auto flat = x.reshape({-1});
  constexpr int64_t kSlice = int64_t{1} << 20;
  for (int64_t i = 0; i < flat.numel(); i += kSlice)
    if (!flat.slice(0, i, std::min(i + kSlice, flat.numel())).isfinite().all().item<bool>()) return false;
  return true;
}

}  // namespace

std::string Source::describe(int64_t row) const { return fmt::format("sample {}", row); }

std::vector<at::Tensor> Source::gather(const at::Tensor& rows, const std::vector<bool>& wanted) const {
  fail("{}: the samples are files, read them one by one with get()", name());
}

TensorSource::TensorSource(ModalitySpecs specs, std::vector<at::Tensor> inputs, at::Tensor labels,
                           std::vector<std::string> class_names, std::string name, std::vector<StoredScale> stored)
    : specs_(std::move(specs)),
      inputs_(std::move(inputs)),
      stored_(std::move(stored)),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)),
      name_(std::move(name)) {
  if (!labels_.defined() || labels_.numel() == 0) fail("{}: the split is empty", name_);
  if (labels_.dim() != 1 || labels_.scalar_type() != at::kLong) fail("{}: labels must be a 1-D int64 tensor", name_);
  if (specs_.size() != inputs_.size() || specs_.empty())
    fail("{}: {} modality specs for {} input tensors", name_, specs_.size(), inputs_.size());
  if (!stored_.empty() && stored_.size() != inputs_.size())
    fail("{}: {} stored scales for {} modalities", name_, stored_.size(), inputs_.size());
  for (size_t m = 0; m < stored_.size(); ++m)
    if (!std::isfinite(stored_[m].scale) || !std::isfinite(stored_[m].mean) || !std::isfinite(stored_[m].stdev) ||
        !(stored_[m].stdev > 0))
      fail("{}: modality '{}' has a stored scale that is not finite or a standard deviation that is not positive",
           name_, specs_[m].name);
  const auto classes = static_cast<int64_t>(class_names_.size());
  auto lo = labels_.min().item<int64_t>(), hi = labels_.max().item<int64_t>();
  if (lo < 0 || hi >= classes) fail("{}: label {} is outside the {} known classes", name_, lo < 0 ? lo : hi, classes);
  for (size_t m = 0; m < inputs_.size(); ++m) {
    const auto& x = inputs_[m];
    const auto& spec = specs_[m];
    const auto type = x.scalar_type();
    if (stored_.empty() && type != at::kFloat) fail("{}: modality '{}' must be float32", name_, spec.name);
    if (type != at::kFloat && type != at::kHalf && type != at::kByte)
      fail("{}: modality '{}' must be stored as uint8, float16 or float32", name_, spec.name);
    std::vector<int64_t> expected{size()};
    expected.insert(expected.end(), spec.shape.begin(), spec.shape.end());
    if (x.sizes().vec() != expected)
      fail("{}: modality '{}' has shape {} but [{}] was expected", name_, spec.name, fmt::join(x.sizes().vec(), ","),
           fmt::join(expected, ","));
    if (!all_finite(x)) fail("{}: modality '{}' contains NaN or infinite values", name_, spec.name);
  }
}

int64_t TensorSource::size() const { return labels_.size(0); }

Sample TensorSource::get(int64_t row, const SampleOptions& options) const {
  Sample s;
  s.label = labels_[row].item<int64_t>();
  for (size_t m = 0; m < inputs_.size(); ++m)
    s.inputs.push_back(options.wanted.empty() || options.wanted[m] ? to_input(m, inputs_[m][row]) : at::Tensor());
  return s;
}

std::vector<at::Tensor> TensorSource::gather(const at::Tensor& rows, const std::vector<bool>& wanted) const {
  std::vector<at::Tensor> out;
  for (size_t m = 0; m < inputs_.size(); ++m)
    out.push_back(wanted.empty() || wanted[m] ? to_input(m, inputs_[m].index_select(0, rows)) : at::Tensor());
  return out;
}

at::Tensor TensorSource::to_input(size_t m, const at::Tensor& rows) const {
  if (stored_.empty()) return rows;
  const auto& s = stored_[m];
  // copy = true: a float32 view would otherwise be normalized in place, in the stored data
  return rows.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).mul_(s.scale).sub_(s.mean).div_(s.stdev);
}

}  // namespace crmt
