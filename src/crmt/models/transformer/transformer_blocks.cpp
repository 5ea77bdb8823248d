#include "crmt/models/transformer/transformer_blocks.h"

#include <torch/nn/init.h>

#include <cmath>
#include <vector>

#include "crmt/core/error.h"

namespace crmt {

namespace nn = torch::nn;

void check(const TransformerOptions& o) {
  if (o.dim < 1) fail("model.transformer.dim must be at least 1, got {}", o.dim);
  if (o.depth < 1) fail("model.transformer.depth must be at least 1, got {}", o.depth);
  if (o.heads < 1) fail("model.transformer.heads must be at least 1, got {}", o.heads);
  if (o.dim % o.heads != 0)
    fail("model.transformer.dim ({}) must be a multiple of model.transformer.heads ({})", o.dim, o.heads);
  if (o.patch < 1) fail("model.transformer.patch must be at least 1, got {}", o.patch);
  if (!(o.mlp_ratio > 0) || static_cast<int64_t>(o.dim * o.mlp_ratio) < 1)
    fail("model.transformer.mlp_ratio must give an MLP of at least 1 unit (dim {} x ratio), got {}", o.dim,
         o.mlp_ratio);
  if (o.pool != "cls" && o.pool != "mean") fail("model.transformer.pool must be cls or mean, got '{}'", o.pool);
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads)
    : heads_(heads), scale_(1.0 / std::sqrt(static_cast<double>(dim / heads))) {
  if (heads < 1 || dim % heads != 0) fail("attention: dim {} is not a multiple of {} heads", dim, heads);
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(dim, 3 * dim).bias(true)));
  proj = register_module("proj", nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), l = x.size(1), d = x.size(2);
  // [N, L, 3 D] -> [3, N, heads, L, D / heads], timm's layout (q, k, v each split into heads).
  auto qkv_heads = qkv(x).reshape({n, l, 3, heads_, d / heads_}).permute({2, 0, 3, 1, 4});
  auto q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];
  auto weights = torch::softmax(torch::matmul(q * scale_, k.transpose(-2, -1)), -1);  // [N, heads, L, L]
  return proj(torch::matmul(weights, v).transpose(1, 2).reshape({n, l, d}));
}

MlpBlockImpl::MlpBlockImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", nn::Linear(dim, hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, dim));
}

torch::Tensor MlpBlockImpl::forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }

nn::LayerNorm vit_layer_norm(int64_t dim) { return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)); }

TransformerBlockImpl::TransformerBlockImpl(int64_t dim, int64_t heads, double mlp_ratio) {
  // Registered in timm's order, so named_parameters() lists them as a timm state dict does.
  norm1 = register_module("norm1", vit_layer_norm(dim));
  attn = register_module("attn", Attention(dim, heads));
  norm2 = register_module("norm2", vit_layer_norm(dim));
  mlp = register_module("mlp", MlpBlock(dim, static_cast<int64_t>(dim * mlp_ratio)));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn(norm1(x));
  return y + mlp(norm2(y));
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch)
    : in_channels_(in_channels), patch_(patch) {
  if (in_channels < 1) fail("patch embedding needs at least 1 input channel, got {}", in_channels);
  if (patch < 1) fail("model.transformer.patch must be at least 1, got {}", patch);
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(in_channels, dim, patch).stride(patch)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != in_channels_ || x.size(2) < patch_ || x.size(3) < patch_)
    fail("patch embedding expects [N, {}, H, W] with H, W >= patch {}, got [{}]", in_channels_, patch_,
         fmt::join(x.sizes(), ", "));
  return proj(x).flatten(2).transpose(1, 2);  // [N, D, H/p, W/p] -> [N, H/p * W/p, D]
}

void trunc_normal_(torch::Tensor tensor, double std) {
  torch::NoGradGuard no_grad;
  // Uniform on [Phi(-2), Phi(2)], mapped through the inverse normal CDF: exact truncation.
  const double lo = std::erf(-2.0 / std::sqrt(2.0)), hi = std::erf(2.0 / std::sqrt(2.0));  // 2 Phi(+-2) - 1
  tensor.uniform_(lo, hi).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0 * std, 2.0 * std);
}

void init_vit_weights(nn::Module& module) {
  torch::NoGradGuard no_grad;
  // modules(include_self = true) needs a shared_ptr to `module`, which a constructor has not yet.
  std::vector<nn::Module*> all{&module};
  for (auto& m : module.modules(/*include_self=*/false)) all.push_back(m.get());
  for (auto* m : all) {
    if (auto* linear = m->as<nn::Linear>()) {
      trunc_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = m->as<nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

}  // namespace crmt
