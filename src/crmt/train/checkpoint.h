#pragma once
#include <torch/optim/optimizer.h>

#include <string>

#include "crmt/models/multimodal_net.h"
#include "crmt/train/checkpoint_info.h"
#include "crmt/train/method.h"

namespace crmt {

// Writes atomically (write_file_atomically), so a crash never leaves a half-written file.
void save_checkpoint(const std::string& path, const CheckpointInfo& info, MultiModalNet& net,
                     torch::optim::Optimizer* optimizer, const Method* method);

// Loads weights (and optimizer/method state when given) into `net`. Throws crmt::Error naming the
// file when its architecture differs from `expected_architecture` or a tensor does not fit.
CheckpointInfo load_checkpoint(const std::string& path, const std::string& expected_architecture, MultiModalNet& net,
                               torch::optim::Optimizer* optimizer = nullptr, Method* method = nullptr);

}  // namespace crmt
