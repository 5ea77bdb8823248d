#pragma once
#include <string>

#include "crmt/core/config.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"
#include "crmt/train/trainer.h"

namespace crmt {

// A trained (or loaded) model with the data it belongs to.
struct Experiment {
  Config config;
  DataSplits data;
  MultiModalNet net{nullptr};
  std::string architecture;
  TrainResult training;
};

// Loads the data, builds the model and method of `config`, trains into output.dir (resuming
// from output.dir/last.pt when asked) and reloads the best checkpoint.
Experiment train_experiment(const Config& config, bool resume);

// Rebuilds the model a checkpoint was trained with (from the config stored inside it, with
// `overrides` applied, e.g. a data subset) and loads its weights and the data.
Experiment load_experiment(const std::string& checkpoint, const std::vector<std::string>& overrides);

}  // namespace crmt
