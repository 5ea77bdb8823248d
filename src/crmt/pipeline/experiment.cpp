#include "crmt/pipeline/experiment.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "crmt/core/collective.h"
#include "crmt/core/device.h"
#include "crmt/core/runtime.h"
#include "crmt/data/data_factory.h"
#include "crmt/train/method_registry.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/checkpoint.h"

namespace crmt {

namespace {

// The data and model of e.config on the device it names. The device is this machine's choice, not
// a checkpoint's: a model trained on a GPU evaluates on a CPU and the reverse (checkpoints hold host
// tensors).
void build_on_device(Experiment& e, bool load_pretrained) {
  seed_everything(static_cast<uint64_t>(e.config.integer("seed")));
  const auto device = resolve_device(e.config.str("device"));
  // Rank 0 first: a dataset cache it prepares (the embedded data's) is then there for the others.
  auto& group = collective();
  if (group.distributed() && !group.is_main()) group.barrier();
  e.data = load_data(e.config, e.config.boolean("output.progress")).on(device);
  if (group.distributed() && group.is_main()) group.barrier();
  e.net = build_model(e.config, e.data.train.specs, e.data.train.num_classes(), load_pretrained);
  place_on_device(e.net, e.config, device);
  e.architecture = describe_architecture(e.net);
}

}  // namespace

Experiment train_experiment(const Config& config, bool resume) {
  Experiment e;
  e.config = config;
  build_on_device(e, /*load_pretrained=*/true);
  auto method = build_method(config);
  Trainer trainer(config, config.str("output.dir"), e.architecture);
  e.training = trainer.fit(e.net, *method, e.data, resume);
  load_checkpoint(e.training.best_checkpoint, e.architecture, e.net);
  e.net->eval();
  return e;
}

Experiment load_experiment(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  auto info = read_checkpoint_info(checkpoint);
  Experiment e;
  e.config = Config::from_string(info.config_yaml, checkpoint + " (stored config)", /*strict=*/false);
  for (const auto& kv : overrides) {
    auto eq = kv.find('=');
    e.config.set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  // The checkpoint holds every weight: the pretrained file of the run need not be there any more.
  build_on_device(e, /*load_pretrained=*/false);
  load_checkpoint(checkpoint, e.architecture, e.net);
  e.net->eval();
  return e;
}

}  // namespace crmt
