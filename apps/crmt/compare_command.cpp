#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/runtime.h"
#include "crmt/pipeline/study.h"

namespace crmt::cli {

// Trains every config over several seeds and writes mean ± standard deviation of the paper's
// table (and certified accuracy) in one markdown/JSON file: the recipe behind docs/results.md.
// Each finished run is kept in <out>/<config name>/seed<k>/compare_record.json and reused by a later
// call with the same resolved config, so an interrupted comparison continues where it stopped; an
// evaluation the record lacks (another eps, radius, ...) is added from the run's best.pt without
// training again.
void add_compare_command(CLI::App& app) {
  auto* compare = app.add_subcommand("compare", "train several configs over seeds and tabulate robustness (mean ± std)");
  auto opt = std::make_shared<StudyOptions>();
  auto threads = std::make_shared<int>(0);
  auto device = std::make_shared<std::string>();
  // One value per --config, so that the positional overrides after the last one are not taken as configs.
  compare->add_option("--config", opt->configs, "experiment YAML, repeatable")
      ->required()
      ->allow_extra_args(false);
  compare->add_option("--seeds", opt->seeds, "comma-separated seeds")->delimiter(',')->allow_extra_args(false);
  compare->add_option("--out", opt->out, "output folder")->capture_default_str();
  compare->add_option("--eps", opt->eps, "l2 budget of FGM/PGD on all modalities")->capture_default_str();
  compare->add_option("--unimodal-eps", opt->unimodal_eps, "l2 budget of FGM/PGD on one modality (paper: 1.0)")
      ->capture_default_str();
  compare->add_option("--radii", opt->radii, "radii for certified accuracy")->delimiter(',')->allow_extra_args(false);
  compare->add_option("--lipschitz-samples", opt->lipschitz_samples, "samples for the empirical Lipschitz estimate")
      ->capture_default_str();
  compare->add_option("overrides", opt->overrides, "section.key=value applied to every config");
  add_threads_option(*compare, *threads);
  add_device_option(*compare, *device);
  compare->callback([opt, threads, device] {
    fmt::print(stderr, "compare: {} thread(s)\n", configure_threads(*threads));
    apply_device_option(*device, opt->overrides);
    const auto records = run_study(*opt);
    fmt::print("{}\n{}\nseeds {}; written to {}/results.md and results.json\n", study_table(records, *opt, false).to_text(),
               study_table(records, *opt, true).to_text(), fmt::join(opt->seeds, ","), opt->out);
  });
}

}  // namespace crmt::cli
