#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "crmt/core/atomic_file.h"
#include "crmt/core/device.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/data/source_registry.h"
#include "crmt/eval/evaluator.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/train/method_registry.h"

namespace crmt::cli {

void add_train_command(CLI::App& app) {
  auto* train = app.add_subcommand("train", "train a multi-modal model from a YAML config");
  struct Options {
    std::string config;
    std::vector<std::string> overrides;
    bool resume = false;
    int threads = 0;
    std::string device;
  };
  auto opt = std::make_shared<Options>();
  train->add_option("--config", opt->config, "experiment YAML (see configs/)");
  train->add_option("overrides", opt->overrides,
                    fmt::format("section.key=value settings applied after the file; train.method is one of {}; "
                                "data.name is one of {} (docs/datasets.md)",
                                fmt::join(known_methods(), ", "), fmt::join(known_sources(), ", ")));
  train->add_flag("--resume", opt->resume, "continue from output.dir/last.pt");
  add_threads_option(*train, opt->threads);
  add_device_option(*train, opt->device);
  train->callback([opt] {
    apply_device_option(opt->device, opt->overrides);
    auto config = Config::load(opt->config, opt->overrides);
    // A recipe file names its method: a forgotten key must not silently train the default (jt).
    const bool method_override = std::any_of(opt->overrides.begin(), opt->overrides.end(),
                                             [](const std::string& kv) { return kv.rfind("train.method=", 0) == 0; });
    if (!opt->config.empty() && !method_override && !config_file_sets(opt->config, "train.method"))
      fail("{}: train.method is not set; name one of {} in the file (or as train.method=...)", opt->config,
           fmt::join(known_methods(), ", "));
    int threads = configure_threads(config.integer("threads") > 0 && opt->threads == 0
                                        ? static_cast<int>(config.integer("threads"))
                                        : opt->threads);
    const auto device = resolve_device(config.str("device")).str();
    fmt::print(stderr, "training {} on {} with {} thread(s) on {} ({}) -> {}\n", config.str("train.method"),
               config.str("data.name"), threads, device, config.str("train.precision"), config.str("output.dir"));
    auto e = train_experiment(config, opt->resume);
    const EvalCase clean_case{AttackSpec{"none", 0, 0}, "all"};
    auto clean = evaluate(e.net, e.data.test, clean_case, config.integer("train.eval_batch_size"), false,
                              static_cast<int>(config.integer("data.workers")));
    nlohmann::json summary = {{"method", config.str("train.method")},
                              {"epochs", e.training.epochs},
                              {"best_val_accuracy", e.training.best_val_accuracy},
                              {"test_accuracy", clean.accuracy},
                              {"test_samples", clean.samples},
                              {"train_seconds", e.training.seconds},
                              {"samples_per_second", e.training.samples_per_second},
                              {"threads", threads},
                              {"device", device},
                              {"precision", config.str("train.precision")},
                              {"checkpoint", e.training.best_checkpoint}};
    write_file_atomically((std::filesystem::path(config.str("output.dir")) / "summary.json").string(), summary.dump(2) + "\n");
    fmt::print("{}: test accuracy {:.2f}% ({} samples), best validation {:.2f}%, {:.0f} s, checkpoint {}\n",
               config.str("train.method"), 100 * clean.accuracy, clean.samples, 100 * e.training.best_val_accuracy,
               e.training.seconds, e.training.best_checkpoint);
  });
}

}  // namespace crmt::cli
