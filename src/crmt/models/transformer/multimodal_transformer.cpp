#include "crmt/models/transformer/multimodal_transformer.h"

#include <ATen/ATen.h>

#include <set>
#include <utility>

#include "crmt/core/error.h"

namespace crmt {

ModalityTokenizerImpl::ModalityTokenizerImpl(std::string name, const std::vector<int64_t>& shape,
                                             const TransformerOptions& options)
    : name_(std::move(name)), patch_(options.patch), dim_(options.dim) {
  if (shape.size() != 3 && shape.size() != 4)
    fail("modality '{}' has shape [{}]: the multi-modal transformer needs [C, H, W] or [T, C, H, W]", name_,
         fmt::join(shape, ", "));
  const size_t o = shape.size() - 3;
  frames_ = o ? shape[0] : 1;
  channels_ = shape[o];
  height_ = shape[o + 1];
  width_ = shape[o + 2];
  if (frames_ < 1 || channels_ < 1 || height_ < 1 || width_ < 1)
    fail("modality '{}' has shape [{}]: sizes must be positive", name_, fmt::join(shape, ", "));
  if (patch_ > height_ || patch_ > width_)
    fail("model.transformer.patch {} does not fit modality '{}' of {}x{} (needs patch <= H and W)", patch_, name_,
         height_, width_);
  torch::NoGradGuard no_grad;
  if (options.pool == "cls") {
    cls_token = register_parameter("cls_token", torch::empty({1, 1, dim_}));
    trunc_normal_(cls_token, 0.02);
  }
  pos_embed = register_parameter("pos_embed", torch::empty({1, grid_h() * grid_w(), dim_}));
  trunc_normal_(pos_embed, 0.02);
  if (frames_ > 1) {
    time_embed = register_parameter("time_embed", torch::empty({1, frames_, dim_}));
    trunc_normal_(time_embed, 0.02);
  }
  modality_embed = register_parameter("modality_embed", torch::empty({1, 1, dim_}));
  trunc_normal_(modality_embed, 0.02);
  patch_embed = register_module("patch_embed", PatchEmbed(channels_, dim_, patch_));
}

torch::Tensor ModalityTokenizerImpl::forward(const torch::Tensor& x) {
  // A single-frame modality also takes a clip of one frame.
  const bool ok = (x.dim() == 5 && x.size(1) == frames_ && x.size(2) == channels_ && x.size(3) == height_ &&
                   x.size(4) == width_) ||
                  (x.dim() == 4 && frames_ == 1 && x.size(1) == channels_ && x.size(2) == height_ &&
                   x.size(3) == width_);
  if (!ok) {
    if (frames_ == 1)
      fail("multi-modal transformer: modality '{}' expects [N, {}, {}, {}], got [{}]", name_, channels_, height_,
           width_, fmt::join(x.sizes(), ", "));
    fail("multi-modal transformer: modality '{}' expects [N, {}, {}, {}, {}], got [{}]", name_, frames_, channels_,
         height_, width_, fmt::join(x.sizes(), ", "));
  }
  const int64_t n = x.size(0), p = grid_h() * grid_w();
  auto patches = patch_embed(x.reshape({n * frames_, channels_, height_, width_})) + pos_embed;  // [N T, P, D]
  patches = patches.reshape({n, frames_, p, dim_});
  if (time_embed.defined()) patches = patches + time_embed.unsqueeze(2);  // [1, T, 1, D]
  auto tokens = patches.reshape({n, frames_ * p, dim_});
  if (cls_token.defined()) tokens = torch::cat({cls_token.expand({n, -1, -1}), tokens}, 1);
  return tokens + modality_embed;
}

MultiModalTransformerImpl::MultiModalTransformerImpl(const std::vector<std::vector<int64_t>>& shapes,
                                                     const std::vector<std::string>& names, TransformerOptions options)
    : options_(std::move(options)), names_(names) {
  check(options_);
  if (shapes.empty()) fail("the multi-modal transformer needs at least one modality");
  if (shapes.size() != names.size())
    fail("the multi-modal transformer got {} modality shapes but {} names", shapes.size(), names.size());
  std::set<std::string> seen;
  for (const auto& name : names) {
    // Names become module names (tokenizers.<name>.*): non-empty, no dots, unique.
    if (name.empty() || name.find('.') != std::string::npos)
      fail("multi-modal transformer: modality name '{}' must be non-empty and without dots", name);
    if (!seen.insert(name).second) fail("multi-modal transformer: modality '{}' is given twice", name);
  }
  tokenizers = register_module("tokenizers", torch::nn::ModuleDict());
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> entries;
  for (size_t m = 0; m < shapes.size(); ++m) {
    tokenizer_list_.emplace_back(names[m], shapes[m], options_);
    entries.emplace_back(names[m], tokenizer_list_.back().ptr());
  }
  tokenizers->update(entries);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.depth; ++i) {
    block_list_.emplace_back(options_.dim, options_.heads, options_.mlp_ratio);
    blocks->push_back(block_list_.back());
  }
  norm = register_module("norm", vit_layer_norm(options_.dim));
  init_vit_weights(*this);  // Linear and LayerNorm only: the tokenizers' embeddings keep theirs
}

std::vector<torch::Tensor> MultiModalTransformerImpl::forward(const std::vector<torch::Tensor>& inputs) {
  if (inputs.size() != names_.size())
    fail("multi-modal transformer expects {} modalities ({}), got {} inputs", names_.size(), fmt::join(names_, ", "),
         inputs.size());
  std::vector<torch::Tensor> tokens;
  std::vector<int64_t> offsets;  // where modality m's tokens start in the joint sequence
  int64_t length = 0;
  for (size_t m = 0; m < inputs.size(); ++m) {
    if (inputs[m].dim() >= 1 && inputs[0].dim() >= 1 && inputs[m].size(0) != inputs[0].size(0))
      fail("multi-modal transformer: modality '{}' has batch size {} but '{}' has {}", names_[m], inputs[m].size(0),
           names_[0], inputs[0].size(0));
    tokens.push_back(tokenizer_list_[m](inputs[m]));
    offsets.push_back(length);
    length += tokens.back().size(1);
  }
  auto x = torch::cat(tokens, 1);  // [N, sum of tokens, D]
  for (auto& block : block_list_) x = block(x);
  std::vector<torch::Tensor> out;
  for (size_t m = 0; m < inputs.size(); ++m) {
    // LayerNorm is per token: normalising only the tokens read out is the same as normalising all.
    if (options_.pool == "cls")
      out.push_back(norm(x.select(1, offsets[m])));
    else
      out.push_back(norm(x.narrow(1, offsets[m], tokens[m].size(1))).mean(1));
  }
  return out;
}

}  // namespace crmt
