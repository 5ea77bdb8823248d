#pragma once
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

#include "crmt/models/encoder.h"
#include "crmt/models/transformer/transformer_blocks.h"
#include "crmt/models/transformer/transformer_options.h"

namespace crmt {

// A ViT (Dosovitskiy et al. 2021) as one modality's encoder: for a spectrogram [N, 1, F, T] it
// patches the time-frequency plane (as AST, Gong et al. 2021), for frames [N, C, H, W] the image;
// a clip [N, T, C, H, W] has its frames folded into the batch, each encoded alone, and the
// per-frame embeddings averaged over T (as the ResNet encoder). The patch grid is
// (height / patch) x (width / patch), fixed by the learned position embedding, so inputs must have
// exactly `height` x `width`; any T is accepted (`frames` is the data's, for reference).
// Parameters carry timm's VisionTransformer names (cls_token, pos_embed, patch_embed.proj,
// blocks.<i>.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm), so a timm state dict
// maps by name (pretrained_vit.h); there is no head. Output [N, dim]: the final-norm class token
// (pool "cls"), or the mean of the final-norm patch tokens (pool "mean", no cls_token then; timm's
// avg pool instead normalises the mean with a separate fc_norm).
class VisionTransformerImpl : public EncoderImpl {
 public:
  VisionTransformerImpl(int64_t in_channels, int64_t frames, int64_t height, int64_t width,
                        TransformerOptions options = {});
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t out_dim() const override { return options_.dim; }
  std::string kind() const override { return "transformer"; }
  const TransformerOptions& options() const { return options_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t frames() const { return frames_; }
  // The patch grid of one frame, and its number of patches.
  int64_t grid_h() const { return height_ / options_.patch; }
  int64_t grid_w() const { return width_ / options_.patch; }
  int64_t num_patches() const { return grid_h() * grid_w(); }

  torch::Tensor cls_token;  // [1, 1, dim]; undefined with pool "mean"
  torch::Tensor pos_embed;  // [1, (cls ? 1 : 0) + num_patches(), dim]
  PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};  // of TransformerBlock
  torch::nn::LayerNorm norm{nullptr};

 private:
  TransformerOptions options_;
  int64_t in_channels_, frames_, height_, width_;
  std::vector<TransformerBlock> block_list_;  // `blocks`, typed
};
TORCH_MODULE(VisionTransformer);

}  // namespace crmt
