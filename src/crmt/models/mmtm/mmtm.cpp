#include "crmt/models/mmtm/mmtm.h"

#include <numeric>

#include "crmt/core/error.h"

namespace crmt {

MmtmImpl::MmtmImpl(std::vector<int64_t> channels, int64_t ratio) : channels_(std::move(channels)) {
  if (channels_.size() < 2) fail("MMTM fuses at least 2 streams, got {}", channels_.size());
  if (ratio < 1) fail("model.mmtm_ratio must be at least 1, got {}", ratio);
  const int64_t total = std::accumulate(channels_.begin(), channels_.end(), int64_t{0});
  code_dim_ = std::max<int64_t>(1, 2 * total / ratio);
  squeeze = register_module("squeeze", torch::nn::Linear(total, code_dim_));
  for (size_t m = 0; m < channels_.size(); ++m)
    excite.push_back(register_module("excite_" + std::to_string(m), torch::nn::Linear(code_dim_, channels_[m])));
}

std::vector<torch::Tensor> MmtmImpl::gates(const std::vector<torch::Tensor>& features,
                                           const std::vector<int64_t>& frames) {
  if (features.size() != channels_.size() || frames.size() != channels_.size())
    fail("MMTM built for {} streams got {}", channels_.size(), features.size());
  std::vector<torch::Tensor> squeezed;
  for (size_t m = 0; m < features.size(); ++m) {
    const auto& f = features[m];
    if (f.dim() != 4 || f.size(1) != channels_[m] || f.size(0) % frames[m] != 0)
      fail("MMTM stream {} expects [N*T, {}, H, W] with T = {}, got [{}]", m, channels_[m], frames[m],
           fmt::join(f.sizes(), ", "));
    squeezed.push_back(f.mean({2, 3}).reshape({f.size(0) / frames[m], frames[m], channels_[m]}).mean(1));
  }
  auto code = torch::relu(squeeze(torch::cat(squeezed, 1)));
  std::vector<torch::Tensor> out;
  for (auto& e : excite) out.push_back(torch::sigmoid(e(code)));
  return out;
}

std::vector<torch::Tensor> MmtmImpl::apply_gates(const std::vector<torch::Tensor>& features,
                                                 const std::vector<torch::Tensor>& gates,
                                                 const std::vector<int64_t>& frames) {
  std::vector<torch::Tensor> out;
  for (size_t m = 0; m < features.size(); ++m) {
    auto g = gates[m].repeat_interleave(frames[m], 0);  // [N*T, C]: one gate per sample, for all its frames
    out.push_back(features[m] * g.unsqueeze(2).unsqueeze(3));
  }
  return out;
}

std::vector<torch::Tensor> MmtmImpl::forward(const std::vector<torch::Tensor>& features,
                                             const std::vector<int64_t>& frames) {
  return apply_gates(features, gates(features, frames), frames);
}

}  // namespace crmt
