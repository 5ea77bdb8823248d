#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/eval/result_table.h"
#include "crmt/train/experiment.h"

namespace crmt::cli {

void add_demo_command(CLI::App& app) {
  auto* demo = app.add_subcommand("demo", "prepare the embedded data, train JT, and print its robustness table");
  struct Options {
    std::string out = "runs/demo", data_root = "data/embedded";
    int64_t epochs = 4, train_size = 20000, test_size = 2000;
    double eps = 0.5;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  demo->add_option("--out", opt->out, "output folder")->capture_default_str();
  demo->add_option("--data-root", opt->data_root, "embedded dataset folder")->capture_default_str();
  demo->add_option("--epochs", opt->epochs, "training epochs per method")->capture_default_str();
  demo->add_option("--train-size", opt->train_size, "training samples (0 = all 60000)")->capture_default_str();
  demo->add_option("--test-size", opt->test_size, "test samples evaluated (0 = all 10000)")->capture_default_str();
  demo->add_option("--eps", opt->eps, "l2 attack budget")->capture_default_str();
  add_threads_option(*demo, opt->threads);
  demo->callback([opt] {
    int threads = configure_threads(opt->threads);
    auto start = std::chrono::steady_clock::now();
    std::vector<RunResults> runs;
    struct Recipe {
      std::string name, method;
      std::vector<std::string> settings;
    };
    const std::vector<Recipe> recipes = {{"JT", "jt", {"model.head=concat"}}};
    for (const auto& recipe : recipes) {
      std::vector<std::string> overrides = {
          "train.method=" + recipe.method, fmt::format("train.epochs={}", opt->epochs),
          fmt::format("data.root={}", opt->data_root), fmt::format("data.train_size={}", opt->train_size),
          fmt::format("data.test_size={}", opt->test_size), "output.dir=" + opt->out + "/" + recipe.method};
      overrides.insert(overrides.end(), recipe.settings.begin(), recipe.settings.end());
      auto config = Config::load("", overrides);
      fmt::print(stderr, "== {}: training on {} samples for {} epochs with {} thread(s)\n", recipe.name,
                 opt->train_size ? std::to_string(opt->train_size) : "all", opt->epochs, threads);
      auto e = train_experiment(config, false);
      RunResults run{recipe.name, {}};
      for (const auto& c : standard_suite(e.data.test.modality_names(), opt->eps, 4))
        run.results.push_back(evaluate(e.net, e.data.test, c, config.integer("train.eval_batch_size"), true));
      runs.push_back(run);
    }
    auto table = results_table(runs);
    std::filesystem::create_directories(opt->out);
    std::ofstream(std::filesystem::path(opt->out) / "results.md") << table.to_markdown();
    std::ofstream(std::filesystem::path(opt->out) / "results.json") << results_json(runs).dump(2) << "\n";
    double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    fmt::print("\nAccuracy (%) on {} test samples of the embedded audio-visual set, l2 eps {} in normalized input space\n\n{}\n"
               "written to {}/results.md and results.json ({:.1f} min)\n",
               opt->test_size ? std::to_string(opt->test_size) : "all", opt->eps, table.to_text(), opt->out, minutes);
  });
}

}  // namespace crmt::cli
