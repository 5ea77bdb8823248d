#include <chrono>
#include <filesystem>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/data/embedded_dataset.h"

namespace crmt::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "manage datasets");
  data->require_subcommand(1);
  auto* prepare = data->add_subcommand("prepare", "build the embedded audio-visual dataset (Fashion-MNIST + spoken class names)");
  struct Options {
    std::string root = "data/embedded";
    uint64_t seed = 0;
    bool force = false;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  prepare->add_option("--root", opt->root, "where to write it")->capture_default_str();
  prepare->add_option("--seed", opt->seed, "pairing and noise seed")->capture_default_str();
  prepare->add_flag("--force", opt->force, "rebuild even when a valid cache exists");
  add_threads_option(*prepare, opt->threads);
  prepare->callback([opt] {
    configure_threads(opt->threads);
    auto start = std::chrono::steady_clock::now();
    if (opt->force) std::filesystem::remove_all(opt->root);
    prepare_embedded(opt->root, opt->seed, true);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uintmax_t bytes = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(opt->root))
      if (f.is_regular_file()) bytes += f.file_size();
    fmt::print("embedded dataset ready in {} ({:.1f} MB, {:.1f} s)\n", opt->root, bytes / 1e6, seconds);
  });
}

}  // namespace crmt::cli
