#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/report/report.h"

namespace crmt::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "the paper's tables (1, 2, 7) and figures (1/4, 3/8, 6, 7) for trained runs, as one folder with index.html");
  struct Options {
    std::vector<std::string> runs;
    std::string eps_list = "0,0.25,0.5,1,1.5", radii, bound;
    ReportOptions report;
    int threads = 0;
    bool quiet = false;
    std::string device;
  };
  auto opt = std::make_shared<Options>();
  auto& r = opt->report;
  cmd->add_option("--run", opt->runs, "NAME=CHECKPOINT (repeat for several runs; NAME labels rows and lines)")
      ->required();
  cmd->add_option("--out", r.out_dir, "output folder (created)")->required();
  cmd->add_option("--test-size", r.test_size, "evaluate on this many test samples, a fixed random subset (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--eps-list", opt->eps_list, "l2 budgets of the accuracy curves")->capture_default_str();
  cmd->add_option("--eps", r.eps, "Table 1: FGM / PGD budget on all modalities")->capture_default_str();
  cmd->add_option("--unimodal-eps", r.unimodal_eps, "Table 2: FGM / PGD budget on one modality (paper: 1.0)")
      ->capture_default_str();
  cmd->add_option("--steps", r.pgd_steps, "PGD and MEA iterations (default: the run's eval.pgd_steps)");
  cmd->add_option("--mgn-sigma", r.mgn_sigma, "Table 7: Gaussian noise standard deviation")->capture_default_str();
  cmd->add_option("--mpm-rate", r.mpm_rate, "Table 7: share of input entries removed")->capture_default_str();
  cmd->add_option("--mea-eps", r.mea_eps, "Table 7: embedding attack l2 budget")->capture_default_str();
  cmd->add_option("--radii", opt->radii, "radii of the uni-modal safe-share curves (default: automatic)");
  cmd->add_option("--tsne-samples", r.tsne_samples, "test samples in each t-SNE (0 = no t-SNE)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tsne-iterations", r.tsne_iterations, "t-SNE gradient steps")->capture_default_str();
  cmd->add_option("--perplexity", r.tsne_perplexity, "t-SNE perplexity")->capture_default_str();
  cmd->add_option("--lipschitz", r.lipschitz, "empirical | guaranteed (for eta and the radii)")->capture_default_str();
  add_bound_options(*cmd, opt->bound, r.intermediate);
  cmd->add_option("--lipschitz-samples", r.lipschitz_samples,
                  "training samples for the empirical Lipschitz estimate (default: crmt.lipschitz_samples)");
  cmd->add_option("--set", r.overrides, "section.key=value applied to every run's stored config");
  cmd->add_flag("--require-figures", r.require_figures,
                "exit non-zero when gnuplot is missing or a figure fails (tables and HTML are written anyway)");
  cmd->add_option("--sigma", r.smoothing_sigma,
                  "--bound smoothing: noise, one value or per modality (default: each run's train.gaussian_noise)");
  cmd->add_option("--samples-select", r.smoothing_select, "--bound smoothing: n0")->capture_default_str();
  cmd->add_option("--samples-estimate", r.smoothing_estimate, "--bound smoothing: n")->capture_default_str();
  cmd->add_option("--alpha", r.smoothing_alpha, "--bound smoothing: the certificates fail with probability at most alpha")
      ->capture_default_str();
  cmd->add_option("--noise-batch", r.smoothing_noise_batch, "--bound smoothing: noisy copies per forward pass")
      ->capture_default_str();
  cmd->add_flag("--quiet", opt->quiet, "no progress lines");
  add_threads_option(*cmd, opt->threads);
  add_device_option(*cmd, opt->device);
  cmd->callback([opt] {
    configure_threads(opt->threads);
    auto& o = opt->report;
    apply_device_option(opt->device, o.overrides);
    o.smoothing = opt->bound == "smoothing";
    o.crown = o.smoothing ? false : resolve_bound_option(opt->bound, o.lipschitz);
    o.eps_list = parse_nonnegative_list(opt->eps_list, "--eps-list");
    if (!opt->radii.empty()) o.radii = parse_nonnegative_list(opt->radii, "--radii");
    if (!(o.tsne_perplexity >= 1)) fail("--perplexity must be at least 1, got {}", o.tsne_perplexity);
    o.show_progress = !opt->quiet;
    std::vector<std::pair<std::string, std::string>> runs;
    for (const auto& spec : opt->runs) {
      auto eq = spec.find('=');
      if (eq == std::string::npos) fail("--run '{}': expected NAME=CHECKPOINT", spec);
      runs.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    }
    auto summary = write_report(runs, o);
    fmt::print("wrote {} ({} tables, {} figures{})\n", summary.index_html, summary.tables.size(), summary.figures.size(),
               summary.figures_rendered ? "" : ", not all drawn");
  });
}

}  // namespace crmt::cli
