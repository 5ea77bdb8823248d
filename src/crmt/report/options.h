#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace crmt {

// `crmt report`: the paper's tables (1, 2, 7) and figures (1/4 accuracy-vs-eps, 3/8 eta heat
// maps, 6/8c uni-modal safe shares, 7 t-SNE) from trained checkpoints, in one folder with an
// index.html. See docs/report.md.
struct ReportOptions {
  std::string out_dir;
  int64_t test_size = 0;                         // evaluate on this many test samples, a seeded subset (0 = all)
  std::vector<double> eps_list = {0, 0.25, 0.5, 1, 1.5};  // x axis of the accuracy curves
  double eps = 0.5;                              // Table 1: FGM / PGD on all modalities
  double unimodal_eps = 1.0;                     // Table 2: FGM / PGD on one modality (the paper's 1.0)
  int pgd_steps = -1;                            // -1 = the run's eval.pgd_steps
  double mgn_sigma = 0.5;                        // Table 7 strengths
  double mpm_rate = 0.3;
  double mea_eps = 0.5;
  std::vector<double> radii;                     // uni-modal safe-share x axis; empty = automatic
  int64_t tsne_samples = 1000;                   // 0 = no t-SNE
  int64_t tsne_iterations = 1000;
  double tsne_perplexity = 30;
  std::string lipschitz = "empirical";           // empirical | guaranteed
  bool crown = false;                            // radii by bound propagation (eta stays guaranteed)
  std::string intermediate = "crown";            // crown: its pre-activation bounds (crown | interval)
  int64_t lipschitz_samples = -1;                // -1 = the run's crmt.lipschitz_samples
  // --bound smoothing: randomized-smoothing certified accuracy next to the Lipschitz estimate's
  bool smoothing = false;
  std::string smoothing_sigma;                   // "" = each run's train.gaussian_noise
  int64_t smoothing_select = 100, smoothing_estimate = 10000, smoothing_noise_batch = 1000;
  double smoothing_alpha = 0.001;
  std::vector<std::string> overrides;            // section.key=value applied to every run's config
  bool require_figures = false;                  // a missing gnuplot or a failed figure is an error
  bool show_progress = true;                     // progress lines on stderr
};

// A progress line on stderr, unless the options ask for quiet.
inline void report_progress(const ReportOptions& options, const std::string& text) {
  if (options.show_progress) std::fprintf(stderr, "crmt report: %s\n", text.c_str());
}

}  // namespace crmt
