#pragma once
#include <torch/nn/modules/container/sequential.h>

#include "crmt/models/encoder.h"

namespace crmt {

// Flatten, then Linear-ReLU layers of `hidden` widths, then a Linear to embed_dim. With no hidden
// layers it is the affine map phi(x) = U x + c whose Lipschitz constant is exactly ||U||_2, which
// the certificate tests rely on.
class MlpImpl : public EncoderImpl {
 public:
  MlpImpl(int64_t in_features, std::vector<int64_t> hidden, int64_t embed_dim);
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t out_dim() const override { return embed_dim_; }
  std::string kind() const override { return hidden_.empty() ? "linear" : "mlp"; }

  torch::nn::Sequential body{nullptr};

 private:
  std::vector<int64_t> hidden_;
  int64_t embed_dim_;
};

}  // namespace crmt
