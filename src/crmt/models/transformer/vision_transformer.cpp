#include "crmt/models/transformer/vision_transformer.h"

#include <ATen/ATen.h>

#include "crmt/core/error.h"

namespace crmt {

VisionTransformerImpl::VisionTransformerImpl(int64_t in_channels, int64_t frames, int64_t height, int64_t width,
                                             TransformerOptions options)
    : options_(std::move(options)), in_channels_(in_channels), frames_(frames), height_(height), width_(width) {
  check(options_);
  if (in_channels < 1 || frames < 1 || height < 1 || width < 1)
    fail("transformer encoder needs a [T, C, H, W] input of positive sizes, got [{}, {}, {}, {}]", frames,
         in_channels, height, width);
  const int64_t dim = options_.dim, patch = options_.patch;
  if (patch > height || patch > width)
    fail("model.transformer.patch {} does not fit the transformer encoder's {}x{} input (needs patch <= H and W)",
         patch, height, width);
  const bool cls = options_.pool == "cls";
  if (cls) cls_token = register_parameter("cls_token", torch::zeros({1, 1, dim}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, (cls ? 1 : 0) + num_patches(), dim}));
  patch_embed = register_module("patch_embed", PatchEmbed(in_channels, dim, patch));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.depth; ++i) {
    block_list_.emplace_back(dim, options_.heads, options_.mlp_ratio);
    blocks->push_back(block_list_.back());
  }
  norm = register_module("norm", vit_layer_norm(dim));
  init_vit_weights(*this);
  trunc_normal_(pos_embed, 0.02);
  if (cls) trunc_normal_(cls_token, 0.02);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& x) {
  const bool clip = x.dim() == 5;
  const int64_t offset = clip ? 1 : 0;
  if ((x.dim() != 4 && !clip) || (clip && x.size(1) < 1) || x.size(1 + offset) != in_channels_ ||
      x.size(2 + offset) != height_ || x.size(3 + offset) != width_)
    fail("transformer encoder expects [N, {c}, {h}, {w}] or a clip [N, T, {c}, {h}, {w}], got [{s}]",
         fmt::arg("c", in_channels_), fmt::arg("h", height_), fmt::arg("w", width_),
         fmt::arg("s", fmt::join(x.sizes(), ", ")));
  const int64_t n = x.size(0), t = clip ? x.size(1) : 1;
  auto tokens = patch_embed(clip ? x.reshape({n * t, in_channels_, height_, width_}) : x);  // [N T, P, D]
  if (cls_token.defined()) tokens = torch::cat({cls_token.expand({n * t, -1, -1}), tokens}, 1);
  tokens = tokens + pos_embed;
  for (auto& block : block_list_) tokens = block(tokens);
  // LayerNorm is per token: normalising only the tokens read out is the same as normalising all.
  auto pooled = cls_token.defined() ? norm(tokens.select(1, 0)) : norm(tokens).mean(1);  // [N T, D]
  return clip ? pooled.reshape({n, t, options_.dim}).mean(1) : pooled;
}

}  // namespace crmt
