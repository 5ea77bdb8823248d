#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace crmt {

// What every model returns, and the only thing methods, attacks and certificates read.
struct ModelOutput {
  std::vector<at::Tensor> embeddings;       // phi(m)(x(m)), [N, dim_m] per modality
  std::vector<at::Tensor> unimodal_scores;  // the K class scores modality m contributes, [N, K]
  at::Tensor logits;                        // fused scores h(x), [N, K]
};

}  // namespace crmt
