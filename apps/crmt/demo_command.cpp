#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/report/demo.h"

namespace crmt::cli {

void add_demo_command(CLI::App& app) {
  auto* demo = app.add_subcommand("demo", "prepare the embedded data, train JT and CRMT-JT, and print their robustness and certificates");
  auto opt = std::make_shared<DemoOptions>();
  auto threads = std::make_shared<int>(0);
  demo->add_option("--out", opt->out, "output folder")->capture_default_str();
  demo->add_option("--data-root", opt->data_root, "embedded dataset folder")->capture_default_str();
  demo->add_option("--epochs", opt->epochs, "training epochs per method")->capture_default_str();
  demo->add_option("--train-size", opt->train_size, "training samples (0 = all 60000)")->capture_default_str();
  demo->add_option("--test-size", opt->test_size, "test samples evaluated (0 = all 10000)")->capture_default_str();
  demo->add_option("--eps", opt->eps, "l2 attack budget")->capture_default_str();
  demo->add_option("--radii", opt->radii, "two radii at which certified accuracy is reported")->delimiter(',')->expected(2);
  demo->add_option("--lipschitz-samples", opt->lipschitz_samples, "training samples for the empirical Lipschitz estimate")
      ->capture_default_str();
  add_threads_option(*demo, *threads);
  demo->add_option("--device", opt->device, "cpu, cuda, cuda:N or auto (cuda when there is a GPU)")->capture_default_str();
  demo->callback([opt, threads] {
    fmt::print(stderr, "demo: {} thread(s)\n", configure_threads(*threads));
    const auto result = run_demo(*opt);
    fmt::print("\nAccuracy (%) on {} test samples of the embedded audio-visual set, l2 eps {} in normalized input space\n\n{}\n"
               "written to {}/results.md and results.json; report with figures: {} ({:.1f} min)\n",
               opt->test_size ? std::to_string(opt->test_size) : "all", opt->eps, result.table.to_text(), opt->out,
               result.index_html, result.minutes);
  });
}

}  // namespace crmt::cli
