#pragma once
#include <torch/optim/optimizer.h>

#include <string>

#include "crmt/models/multimodal_net.h"
#include "crmt/train/method.h"

namespace crmt {

// What a checkpoint holds besides the weights: enough to rebuild the model (the resolved config)
// and to refuse loading into a different one (the architecture line).
struct CheckpointInfo {
  std::string config_yaml;
  std::string architecture;
  int64_t epoch = 0;          // epochs completed
  double best_val_accuracy = -1;
  // The method's final stage (CRMT's step 2, ...) has run on these weights: a resumed run must not
  // run it again on its own result.
  bool finished = false;
};

// Writes atomically (write_file_atomically), so a crash never leaves a half-written file.
void save_checkpoint(const std::string& path, const CheckpointInfo& info, MultiModalNet& net,
                     torch::optim::Optimizer* optimizer, const Method* method);

// Reads only the header fields (config, architecture, epoch); throws crmt::Error naming the file
// when it is missing or not a crmt checkpoint.
CheckpointInfo read_checkpoint_info(const std::string& path);

// Loads weights (and optimizer/method state when given) into `net`. Throws crmt::Error naming the
// file when its architecture differs from `expected_architecture` or a tensor does not fit.
CheckpointInfo load_checkpoint(const std::string& path, const std::string& expected_architecture, MultiModalNet& net,
                               torch::optim::Optimizer* optimizer = nullptr, Method* method = nullptr);

}  // namespace crmt
