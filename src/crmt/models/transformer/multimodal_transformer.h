#pragma once
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <vector>

#include "crmt/models/joint_encoder.h"
#include "crmt/models/transformer/transformer_blocks.h"
#include "crmt/models/transformer/transformer_options.h"

namespace crmt {

// One modality's tokens for the joint transformer: each frame patched by `patch_embed` (timm's
// PatchEmbed), plus `pos_embed` [1, P, dim] (the spatial grid, shared by a clip's frames), plus
// `time_embed` [1, T, dim] (only when T > 1, shared by a frame's patches); then its `cls_token`
// [1, 1, dim] first (pool "cls" only), and `modality_embed` [1, 1, dim] added to every token.
class ModalityTokenizerImpl : public torch::nn::Module {
 public:
  // shape: one sample, [C, H, W] or [T, C, H, W]; `name` is for errors.
  ModalityTokenizerImpl(std::string name, const std::vector<int64_t>& shape, const TransformerOptions& options);
  // [N, C, H, W] (T = 1) or [N, T, C, H, W] -> [N, num_tokens(), dim], the class token first.
  torch::Tensor forward(const torch::Tensor& x);
  int64_t frames() const { return frames_; }
  int64_t grid_h() const { return height_ / patch_; }
  int64_t grid_w() const { return width_ / patch_; }
  int64_t num_tokens() const { return (cls_token.defined() ? 1 : 0) + frames_ * grid_h() * grid_w(); }

  torch::Tensor cls_token, pos_embed, time_embed, modality_embed;  // time_embed undefined when T = 1
  PatchEmbed patch_embed{nullptr};

 private:
  std::string name_;
  int64_t frames_, channels_, height_, width_, patch_, dim_;
};
TORCH_MODULE(ModalityTokenizer);

// Early fusion: every modality's tokens (class token and each frame's patch tokens) concatenated
// into one sequence, through joint pre-norm `blocks` and a final LayerNorm `norm` (timm's names:
// ImageNet ViT blocks load into them, pretrained_vit.h), so each token attends to all modalities'.
// Modality m's embedding is its class token after the final norm (pool "cls"), or the mean of its
// final-norm patch tokens (pool "mean", no class tokens then): a per-modality readout for a
// late-fusion head, which depends on every modality's input. Tokenizers are
// `tokenizers.<modality name>`.
class MultiModalTransformerImpl : public JointEncoderImpl {
 public:
  // shapes[m]: modality m's sample shape, [C, H, W] or [T, C, H, W]; names[m]: its name (no dots).
  MultiModalTransformerImpl(const std::vector<std::vector<int64_t>>& shapes, const std::vector<std::string>& names,
                            TransformerOptions options = {});
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) override;
  std::vector<int64_t> out_dims() const override {
    return std::vector<int64_t>(names_.size(), options_.dim);
  }
  std::string kind() const override { return "multimodal_transformer"; }
  // Modality m's tokenizer (patch, position, time, modality embeddings and class token).
  std::vector<torch::Tensor> modality_parameters(size_t m) override { return tokenizer(m).parameters(); }
  ModalityTokenizerImpl& tokenizer(size_t m) { return *tokenizer_list_.at(m); }
  const std::vector<std::string>& names() const { return names_; }
  const TransformerOptions& options() const { return options_; }

  torch::nn::ModuleDict tokenizers{nullptr};  // name -> ModalityTokenizer, in modality order
  torch::nn::ModuleList blocks{nullptr};      // of TransformerBlock
  torch::nn::LayerNorm norm{nullptr};

 private:
  TransformerOptions options_;
  std::vector<std::string> names_;
  std::vector<ModalityTokenizer> tokenizer_list_;  // `tokenizers`, typed
  std::vector<TransformerBlock> block_list_;       // `blocks`, typed
};
TORCH_MODULE(MultiModalTransformer);

}  // namespace crmt
