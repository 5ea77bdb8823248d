#include <chrono>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/data/data_factory.h"
#include "crmt/data/embedded_dataset.h"
#include "crmt/data/fixtures/make_fixture.h"
#include "crmt/data/prepare/prepare.h"

namespace crmt::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "manage datasets");
  data->require_subcommand(1);
  auto* prepare = data->add_subcommand(
      "prepare",
      "without a dataset: build the embedded audio-visual dataset (Fashion-MNIST + spoken class names); with one (" +
          fmt::format("{}", fmt::join(prepare_datasets(), ", ")) +
          "): turn a folder of downloaded videos into the layout its loader reads (frames, spectrograms, flow)");
  struct Options {
    std::string dataset, root = "data/embedded", config, videos, out;
    std::vector<std::string> index;
    uint64_t seed = 0;
    bool force = false;
    int threads = 0, workers = 1, jpeg_quality = 95;
    double fps = 0;
    int64_t limit = 0;
  };
  auto opt = std::make_shared<Options>();
  prepare->add_option("dataset", opt->dataset, "a real dataset to prepare from videos (omit for the embedded one)");
  auto* root = prepare->add_option("--root", opt->root, "embedded: where to write it")->capture_default_str();
  prepare->add_option("--config", opt->config,
                      "embedded: take data.root (unless --root) and the corruption settings (data.embedded) from this config");
  prepare->add_option("--seed", opt->seed, "embedded: pairing and noise seed")->capture_default_str();
  prepare->add_flag("--force", opt->force, "embedded: rebuild even when a valid cache exists");
  prepare->add_option("--videos", opt->videos, "videos: the folder of downloaded videos (searched recursively)");
  prepare->add_option("--out", opt->out, "videos: the dataset folder to write (data.root of the configs)");
  prepare->add_option("--index", opt->index,
                      "videos: the dataset's index files or the folder holding them (default: found under --videos)");
  prepare->add_option("--workers", opt->workers, "videos: clips decoded in parallel")->capture_default_str();
  prepare->add_option("--fps", opt->fps, "videos: frames kept per second (0: the dataset's; 1, UCF101 RGB 2)")
      ->capture_default_str();
  prepare->add_option("--jpeg-quality", opt->jpeg_quality, "videos: JPEG quality of frames and flow")->capture_default_str();
  prepare->add_option("--limit", opt->limit, "videos: only the first N clips of the index (0: all)")->capture_default_str();
  add_threads_option(*prepare, opt->threads);
  prepare->callback([opt, root] {
    if (!opt->dataset.empty() && opt->dataset != "embedded") {
      if (opt->videos.empty() || opt->out.empty()) fail("prepare {}: --videos and --out are required", opt->dataset);
      // Clips are the parallel unit: one intra-op thread each unless asked otherwise.
      configure_threads(opt->threads > 0 ? opt->threads : 1);
      PrepareOptions p;
      p.dataset = opt->dataset;
      p.videos_dir = opt->videos;
      p.out_dir = opt->out;
      p.index_files = opt->index;
      p.workers = opt->workers;
      p.fps = opt->fps;
      p.jpeg_quality = opt->jpeg_quality;
      p.limit = opt->limit;
      p.show_progress = true;
      const auto s = prepare_videos(p);
      fmt::print("{} prepared in {}: {} clips in the index, {} prepared now, {} already done, {} failed, {} without a video "
                 "({:.1f} s); manifest {}\n",
                 opt->dataset, opt->out, s.clips, s.prepared, s.already, s.failed, s.missing, s.seconds, s.manifest);
      for (const auto& f : s.failures) fmt::print(stderr, "  failed: {}\n", f);
      if (s.failed > static_cast<int64_t>(s.failures.size()))
        fmt::print(stderr, "  ... and {} more (see the manifest)\n", s.failed - static_cast<int64_t>(s.failures.size()));
      if (s.failed > 0) exit_code() = 2;
      return;
    }
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
  fixture->add_flag("--videos", fopt->videos, "also write the raw videos under --out/videos, as the dataset ships them");
  fixture->callback([fopt] {
    fopt->show_progress = true;
    auto s = make_fixture(*fopt);
    fmt::print("{} fixture written to {}: {} clips per split, {} classes, {} files ({:.1f} MB, {:.1f} s)\n",
               fopt->dataset, fopt->out_dir, fopt->clips, s.classes, s.files, s.bytes / 1e6, s.seconds);
  });
}

}  // namespace crmt::cli
