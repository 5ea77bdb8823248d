#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/atomic_file.h"
#include "crmt/core/device.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/data/rank_share.h"
#include "crmt/data/source_registry.h"
#include "crmt/eval/evaluator.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/train/distributed/local_launcher.h"
#include "crmt/train/distributed/process_group.h"
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
    int nproc = 1;
  };
  auto opt = std::make_shared<Options>();
  train->add_option("--config", opt->config, "experiment YAML (see configs/)");
  train->add_option("overrides", opt->overrides,
                    fmt::format("section.key=value settings applied after the file; train.method is one of {}; "
                                "data.name is one of {} (docs/datasets.md)",
                                fmt::join(known_methods(), ", "), fmt::join(known_sources(), ", ")));
  train->add_flag("--resume", opt->resume, "continue from output.dir/last.pt");
  train->add_option("--nproc", opt->nproc,
                    "train data-parallel on N processes of this machine (as torchrun --nproc-per-node N; "
                    "see docs/distributed.md for torchrun and Slurm)")
      ->check(CLI::PositiveNumber);
  add_threads_option(*train, opt->threads);
  add_device_option(*train, opt->device);
  train->callback([opt] {
    const auto launch = read_launch_env();
    if (opt->nproc > 1) {
      if (launch.distributed())
        fail("--nproc {} starts its own ranks, but this process is already rank {} of {} (WORLD_SIZE is set)", opt->nproc,
             launch.rank, launch.world_size);
      std::vector<std::string> argv;
      const auto& args = command_line();
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--nproc") {
          ++i;
          continue;
        }
        if (args[i].rfind("--nproc=", 0) == 0) continue;
        argv.push_back(args[i]);
      }
      exit_code() = launch_local_processes(opt->nproc, argv);
      return;
    }
    apply_device_option(opt->device, opt->overrides);
    auto config = Config::load(opt->config, opt->overrides);
    // A recipe file names its method: a forgotten key must not silently train the default (jt).
    const bool method_override = std::any_of(opt->overrides.begin(), opt->overrides.end(),
                                             [](const std::string& kv) { return kv.rfind("train.method=", 0) == 0; });
    if (!opt->config.empty() && !method_override && !config_file_sets(opt->config, "train.method"))
      fail("{}: train.method is not set; name one of {} in the file (or as train.method=...)", opt->config,
           fmt::join(known_methods(), ", "));
    int requested = config.integer("threads") > 0 && opt->threads == 0 ? static_cast<int>(config.integer("threads"))
                                                                        : opt->threads;
    // "All cores" for each of several ranks on one machine would oversubscribe it: share them
    // (unless OMP_NUM_THREADS, which torchrun sets, already says how many).
    if (requested == 0 && launch.distributed() && !std::getenv("OMP_NUM_THREADS"))
      if (const char* local = std::getenv("LOCAL_WORLD_SIZE"); local && std::atoi(local) > 1)
        requested = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::atoi(local));
    const int threads = configure_threads(requested);
    const auto resolved_device = rank_device(resolve_device(config.str("device")), launch);
    // Joins the process group (a no-op for one process) and checks every rank has the same config.
    const DistributedRun distributed(config, resolved_device, launch);
    if (launch.distributed()) {
      config.set("device", resolved_device.str());
      if (launch.rank != 0) config.set("output.progress", "false");
    }
    auto& group = collective();
    const auto device = resolved_device.str();
    if (group.is_main())
      fmt::print(stderr, "training {} on {} with {} thread(s) on {} ({}){} -> {}\n", config.str("train.method"),
                 config.str("data.name"), threads, device, config.str("train.precision"),
                 launch.distributed() ? fmt::format(", rank 0 of {} ({})", launch.world_size,
                                                     launch.launcher == "slurm" ? "Slurm" : "RANK/WORLD_SIZE")
                                   : "",
                 config.str("output.dir"));
    auto e = train_experiment(config, opt->resume);
    const EvalCase clean_case{AttackSpec{"none", 0, 0}, "all"};
    // Each rank tests its contiguous part of the test split; the counts are summed.
    const auto test = rank_share(e.data.test, group);
    auto clean = evaluate(e.net, test, clean_case, config.integer("train.eval_batch_size"), false,
                          static_cast<int>(config.integer("data.workers")));
    if (group.distributed()) {
      auto totals = group.sum(torch::tensor({clean.accuracy * clean.samples, static_cast<double>(clean.samples)}, torch::kDouble));
      clean.samples = static_cast<int64_t>(totals[1].item<double>());
      clean.accuracy = clean.samples > 0 ? totals[0].item<double>() / clean.samples : 0.0;
    }
    if (!group.is_main()) return;
    nlohmann::json summary = {{"method", config.str("train.method")},
                              {"epochs", e.training.epochs},
                              {"best_val_accuracy", e.training.best_val_accuracy},
                              {"test_accuracy", clean.accuracy},
                              {"test_samples", clean.samples},
                              {"train_seconds", e.training.seconds},
                              {"samples_per_second", e.training.samples_per_second},
                              {"threads", threads},
                              {"world_size", group.world_size()},
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
