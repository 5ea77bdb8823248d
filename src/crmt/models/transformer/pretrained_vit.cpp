#include "crmt/models/transformer/pretrained_vit.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/module.h>

#include <cmath>

#include "crmt/models/pretrained.h"

namespace crmt {

namespace {

const std::vector<std::string> kClassifier = {"head.", "head_dist.", "fc_norm.", "pre_logits."};

}  // namespace

at::Tensor resample_position_embedding(const at::Tensor& src, int64_t grid_h, int64_t grid_w, bool with_cls) {
  if (src.dim() != 3 || src.size(0) != 1) return src;
  const int64_t tokens = src.size(1);
  auto square_side = [](int64_t n) {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    return side * side == n ? side : int64_t{0};
  };
  int64_t side = square_side(tokens);
  bool src_cls = false;
  if (side == 0 && tokens > 1) {
    side = square_side(tokens - 1);
    src_cls = side > 0;
  }
  if (side == 0) return src;
  auto grid = src.narrow(1, src_cls ? 1 : 0, side * side);  // [1, g*g, D]
  const int64_t dim = src.size(2);
  if (side != grid_h || side != grid_w) {
    namespace F = torch::nn::functional;
    auto image = grid.reshape({1, side, side, dim}).permute({0, 3, 1, 2}).to(torch::kFloat);
    image = F::interpolate(image, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{grid_h, grid_w})
                                      .mode(torch::kBicubic)
                                      .align_corners(false));
    grid = image.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, dim}).to(src.scalar_type());
  }
  if (!with_cls) return grid.contiguous();
  auto cls = src_cls ? src.narrow(1, 0, 1) : torch::zeros({1, 1, dim}, src.options());
  return torch::cat({cls, grid}, 1);
}

void load_pretrained_vit(torch::nn::Module& encoder, int64_t grid_h, int64_t grid_w, const std::string& path) {
  PretrainedMapping mapping;
  mapping.expected = "a timm VisionTransformer";
  mapping.unused_prefixes = kClassifier;
  bool has_cls = false;
  for (const auto& p : encoder.named_parameters(/*recurse=*/false)) has_cls = has_cls || p.key() == "cls_token";
  if (!has_cls) mapping.unused_prefixes.push_back("cls_token");
  mapping.adapt = [=](const std::string& name, const at::Tensor& src, const at::Tensor&) {
    return name == "pos_embed" ? resample_position_embedding(src, grid_h, grid_w, has_cls) : src;
  };
  load_pretrained(encoder, path, mapping);
}

void load_pretrained_vit_into_joint(torch::nn::Module& model,
                                    const std::map<std::string, std::pair<int64_t, int64_t>>& grids,
                                    const std::string& path) {
  PretrainedMapping mapping;
  mapping.expected = "a timm VisionTransformer";
  mapping.unused_prefixes = kClassifier;
  for (const char* t : {"cls_token", "pos_embed", "patch_embed."}) mapping.unused_prefixes.push_back(t);
  // "tokenizers.<modality>.<tensor>" -> the ViT's <tensor> for a chosen modality's patch_embed,
  // pos_embed and cls_token; blocks and norm by their own names; everything else stays.
  auto split = [](const std::string& name) -> std::pair<std::string, std::string> {
    const std::string prefix = "tokenizers.";
    if (name.rfind(prefix, 0) != 0) return {"", name};
    const auto dot = name.find('.', prefix.size());
    if (dot == std::string::npos) return {"", name};
    return {name.substr(prefix.size(), dot - prefix.size()), name.substr(dot + 1)};
  };
  mapping.source_name = [=](const std::string& name) -> std::string {
    const auto [modality, rest] = split(name);
    if (modality.empty()) return name.rfind("blocks.", 0) == 0 || name.rfind("norm.", 0) == 0 ? name : "";
    if (!grids.count(modality)) return "";
    if (rest == "pos_embed" || rest == "cls_token" || rest.rfind("patch_embed.", 0) == 0) return rest;
    return "";
  };
  mapping.adapt = [=](const std::string& name, const at::Tensor& src, const at::Tensor&) {
    const auto [modality, rest] = split(name);
    if (rest != "pos_embed" || !grids.count(modality)) return src;
    const auto [h, w] = grids.at(modality);
    return resample_position_embedding(src, h, w, /*with_cls=*/false);
  };
  load_pretrained(model, path, mapping);
}

}  // namespace crmt
