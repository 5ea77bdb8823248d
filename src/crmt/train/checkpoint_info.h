#pragma once
#include <torch/serialize/input-archive.h>

#include <cstdint>
#include <string>

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

// Reads only the header fields (config, architecture, epoch); throws crmt::Error naming the file
// when it is missing, not a crmt checkpoint, or a field is missing or of the wrong type.
CheckpointInfo read_checkpoint_info(const std::string& path);

// The checkpoint's archive, its format tag checked (crmt::Error naming the file otherwise), and its
// header fields read from it.
torch::serialize::InputArchive open_checkpoint_archive(const std::string& path);
CheckpointInfo read_checkpoint_header(torch::serialize::InputArchive& archive, const std::string& path);

}  // namespace crmt
