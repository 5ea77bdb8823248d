#pragma once
#include <cstdint>
#include <string>

#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Re-estimates the running statistics of every batch-norm layer on the current weights: `passes`
// shuffled passes over `data` in training mode, without gradients and without any parameter update
// (the statistics move as in training, by each layer's momentum). Training leaves statistics that
// lag behind weights which kept moving; the official CRMT code's step 2 does this as a side effect
// (it runs in training mode), and crmt offers it to every method as `train.bn_recalibrate_epochs`
// so that comparisons can give all methods the same treatment. The model is left in eval mode.
// Returns the number of batch-norm layers it found (0: nothing to re-estimate, nothing ran).
int64_t recalibrate_batch_norm(MultiModalNet& net, const MultiModalDataset& data, int64_t passes, int64_t batch_size,
                               uint64_t seed, const std::string& label, bool show_progress, int workers = 0);

// Batch-norm layers (any dimension) inside `net`.
int64_t count_batch_norm_layers(MultiModalNet& net);

}  // namespace crmt
