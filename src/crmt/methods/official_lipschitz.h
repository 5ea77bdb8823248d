#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// The Lipschitz table [M, K] (float64) that the official CRMT code's get_lip hands to step 2,
// reproduced to match published numbers (crmt.lipschitz_estimator: official), not to bound anything.
// In eval mode, over the first `max_samples` samples of `data` (0 = all), for each class t it takes
// the input gradient of the FUSED score h_t (which carries a_t(m)), and Lip[m][t] is the largest
// per-sample l2 norm. Its two slips are kept: the audio input's gradient is zeroed before it is
// read, so the audio row is 0 (the modality named "audio", else the last one), and the other
// modalities' gradients are never zeroed between classes, so their entry for class t is the norm
// of the gradient summed over classes 0..t.
at::Tensor official_lipschitz_table(MultiModalNet& net, const MultiModalDataset& data, int64_t max_samples = 0,
                                    int64_t batch_size = 64);

}  // namespace crmt
