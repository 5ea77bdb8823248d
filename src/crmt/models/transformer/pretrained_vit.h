#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace torch::nn {
class Module;
}

namespace crmt {

// A timm ViT position embedding [1, (1 +) g*g, D] (a class-token slot first when 1 + g*g tokens)
// made to fit [1, (1 +) grid_h*grid_w, D]: the grid part resampled bicubically (as timm's
// resample_abs_pos_embed), the class slot kept, added or dropped as `with_cls` says. Returns `src`
// unchanged when its token count is no square grid (the loader then reports the shape).
at::Tensor resample_position_embedding(const at::Tensor& src, int64_t grid_h, int64_t grid_w, bool with_cls);

// timm ViT weights (cls_token, pos_embed, patch_embed.proj, blocks.*, norm) into a
// VisionTransformer encoder whose patch grid is grid_h x grid_w: names map one to one; the
// position embedding is resampled to the grid; RGB patch filters are averaged for a 1-channel
// spectrogram; the classifier (head., fc_norm.) is left; without a class token (pool mean) the
// file's is left too. Errors as load_pretrained (every problem at once).
void load_pretrained_vit(torch::nn::Module& encoder, int64_t grid_h, int64_t grid_w, const std::string& path);

// The same into a multi-modal transformer: its joint blocks and final norm take the ViT's, and the
// tokenizers of the modalities in `grids` (name -> its patch grid) take the ViT's patch
// embedding, position embedding (grid part) and class token. Modality and time embeddings, and the
// tokenizers of other modalities, keep their initialisation.
void load_pretrained_vit_into_joint(torch::nn::Module& model,
                                    const std::map<std::string, std::pair<int64_t, int64_t>>& grids,
                                    const std::string& path);

}  // namespace crmt
