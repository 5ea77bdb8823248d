#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "crmt/models/transformer/transformer_options.h"

namespace crmt {

// The pieces of a ViT, with timm's submodule and parameter names (timm/models/vision_transformer.py)
// so that a timm state dict maps onto them by name. No dropout, drop path or layer scale: timm's
// are identities (no parameters) at their defaults.

// Multi-head self-attention: [N, L, dim] -> [N, L, dim]. `qkv` (dim -> 3 dim, with bias) and
// `proj` (dim -> dim).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_;
  double scale_;  // 1 / sqrt(head dim)
};
TORCH_MODULE(Attention);

// fc1 (dim -> hidden), exact (erf) GELU, fc2 (hidden -> dim), per token.
class MlpBlockImpl : public torch::nn::Module {
 public:
  MlpBlockImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(MlpBlock);

// Pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorms with timm's eps 1e-6.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int64_t dim, int64_t heads, double mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  MlpBlock mlp{nullptr};
};
TORCH_MODULE(TransformerBlock);

// [N, C, H, W] -> tokens [N, (H / patch) * (W / patch), dim] by a Conv2d `proj` with kernel =
// stride = patch (rows and columns past the last whole patch are dropped, as the convolution does),
// tokens in row-major patch order as timm's flatten(2).transpose(1, 2).
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t patch() const { return patch_; }

  torch::nn::Conv2d proj{nullptr};

 private:
  int64_t in_channels_, patch_;
};
TORCH_MODULE(PatchEmbed);

// LayerNorm(dim) with timm's eps.
torch::nn::LayerNorm vit_layer_norm(int64_t dim);

// In place, ~ N(0, std^2) truncated to [-2 std, 2 std] (by inverse-CDF sampling, as PyTorch's
// trunc_normal_; libtorch 1.13 has none). timm's own bounds are absolute (-2, 2), which at std 0.02
// truncate nothing; the ViT paper's JAX code truncates at 2 std.
void trunc_normal_(torch::Tensor tensor, double std);

// timm's default ViT initialisation of every submodule of `module`: Linear weights trunc_normal
// (std 0.02), biases 0; LayerNorm weight 1, bias 0. Conv2d (the patch embedding) keeps PyTorch's
// default, as in timm. Token and position embeddings are the caller's (trunc_normal_ std 0.02).
void init_vit_weights(torch::nn::Module& module);

}  // namespace crmt
