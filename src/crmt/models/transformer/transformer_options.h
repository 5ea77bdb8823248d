#pragma once
#include <cstdint>
#include <string>

namespace crmt {

// The transformer encoders' sizes (config section model.transformer). The defaults are ViT-Tiny's
// width and heads (192, 3) at a shallower depth; ImageNet ViT weights need their own dim, heads and
// patch (ViT-S/16: 384, 6, 16; ViT-B/16: 768, 12, 16) and load into the first `depth` blocks only
// if the file has exactly that many.
struct TransformerOptions {
  int64_t dim = 192;
  int64_t depth = 4;
  int64_t heads = 3;
  double mlp_ratio = 4.0;  // the MLP's hidden width is int(dim * mlp_ratio), as timm's
  int64_t patch = 16;      // square patches, kernel = stride = patch
  std::string pool = "cls";  // "cls" (the class token) | "mean" (the mean of the patch tokens)
};

// Fails (naming model.transformer.<option>) unless dim % heads == 0, the sizes are >= 1 and pool is
// known.
void check(const TransformerOptions& options);

}  // namespace crmt
