#include <chrono>
#include <filesystem>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/data/data_factory.h"
#include "crmt/data/embedded_dataset.h"
#include "crmt/data/fixtures/make_fixture.h"

namespace crmt::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "manage datasets");
  data->require_subcommand(1);
  auto* prepare = data->add_subcommand("prepare", "build the embedded audio-visual dataset (Fashion-MNIST + spoken class names)");
  struct Options {
    std::string root = "data/embedded", config;
    uint64_t seed = 0;
    bool force = false;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  auto* root = prepare->add_option("--root", opt->root, "where to write it")->capture_default_str();
  prepare->add_option("--config", opt->config,
                      "take data.root (unless --root) and the corruption settings (data.embedded) from this config");
  prepare->add_option("--seed", opt->seed, "pairing and noise seed")->capture_default_str();
  prepare->add_flag("--force", opt->force, "rebuild even when a valid cache exists");
  add_threads_option(*prepare, opt->threads);
  prepare->callback([opt, root] {
    configure_threads(opt->threads);
    auto start = std::chrono::steady_clock::now();
    EmbeddedPrepareOptions prep;
    if (!opt->config.empty()) {
      const auto config = Config::load(opt->config);
      prep.recipe = embedded_recipe(config);
      if (root->count() == 0) opt->root = config.str("data.root");
    }
    if (opt->force) std::filesystem::remove_all(opt->root);
    prep.dir = opt->root;
    prep.seed = opt->seed;
    prepare_embedded(prep);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uintmax_t bytes = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(opt->root))
      if (f.is_regular_file()) bytes += f.file_size();
    fmt::print("embedded dataset ready in {} ({:.1f} MB, {:.1f} s)\n", opt->root, bytes / 1e6, seconds);
  });
  auto* fixture = data->add_subcommand(
      "make-fixture",
      "write a small stand-in for a real dataset (" + fmt::format("{}", fmt::join(fixture_datasets(), ", ")) +
          ") in its on-disk layout: moving, tinted Fashion-MNIST frames and spoken class names");
  auto fopt = std::make_shared<FixtureOptions>();
  fixture->add_option("dataset", fopt->dataset, "which dataset's layout")->required();
  fixture->add_option("--out", fopt->out_dir, "folder to write (must be empty or absent)")->required();
  fixture->add_option("--clips", fopt->clips, "clips per split")->capture_default_str();
  fixture->add_option("--seed", fopt->seed, "ids, images, motion, voices and noise")->capture_default_str();
  fixture->add_option("--fashion-mnist", fopt->fashion_mnist_dir, "folder of the Fashion-MNIST idx files")
      ->capture_default_str();
  fixture->add_flag("--force", fopt->force, "replace the contents of a non-empty --out");
  fixture->callback([fopt] {
    fopt->show_progress = true;
    auto s = make_fixture(*fopt);
    fmt::print("{} fixture written to {}: {} clips per split, {} classes, {} files ({:.1f} MB, {:.1f} s)\n",
               fopt->dataset, fopt->out_dir, fopt->clips, s.classes, s.files, s.bytes / 1e6, s.seconds);
  });
}

}  // namespace crmt::cli
