#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <vector>

namespace crmt {

// The multi-modal transfer module (Vaezi Joze et al., CVPR 2020) for any number of streams: each
// stream's feature map [N*T_m, C_m, H_m, W_m] is squeezed to [N, C_m] by its mean over space and
// the clip's frames; the squeezed vectors, concatenated, go through one shared excitation
// (Linear `squeeze` to a joint code, ReLU) and a Linear `excite_<m>` per stream, whose sigmoid
// gates g_m in (0, 1)^{C_m} rescale that stream's channels: out_m = g_m * in_m. The joint code is
// int(2 * sum(C_m) / ratio) wide, as the original code's `dim_out` (ratio 4 there).
class MmtmImpl : public torch::nn::Module {
 public:
  MmtmImpl(std::vector<int64_t> channels, int64_t ratio = 4);
  // `features[m]` with `frames[m]` frames per sample folded into its batch.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& features, const std::vector<int64_t>& frames);
  // The gates [N, C_m] per stream, each in (0, 1).
  std::vector<torch::Tensor> gates(const std::vector<torch::Tensor>& features, const std::vector<int64_t>& frames);
  // in_m * g_m with g_m [N, C_m] broadcast over the frames and space of stream m.
  static std::vector<torch::Tensor> apply_gates(const std::vector<torch::Tensor>& features,
                                                const std::vector<torch::Tensor>& gates,
                                                const std::vector<int64_t>& frames);
  int64_t code_dim() const { return code_dim_; }

  torch::nn::Linear squeeze{nullptr};
  std::vector<torch::nn::Linear> excite;

 private:
  std::vector<int64_t> channels_;
  int64_t code_dim_;
};
TORCH_MODULE(Mmtm);

}  // namespace crmt
