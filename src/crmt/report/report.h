#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crmt/certify/certificate.h"
#include "crmt/eval/evaluator.h"
#include "crmt/eval/sweep.h"
#include "crmt/pipeline/experiment.h"

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
  int64_t lipschitz_samples = -1;                // -1 = the run's crmt.lipschitz_samples
  std::vector<std::string> overrides;            // section.key=value applied to every run's config
  bool require_figures = false;                  // a missing gnuplot or a failed figure is an error
  bool show_progress = true;                     // progress lines on stderr
};

// Everything the report shows about one run.
struct RunAnalysis {
  std::string name, checkpoint, method, head, architecture, config_yaml;
  std::vector<std::string> modalities, class_names;
  int64_t test_samples = 0;
  int pgd_steps = 4;                // PGD and MEA iterations used
  std::vector<EvalResult> results;  // Table 1, 2 and 7 cases
  Sweep fgm, pgd;
  std::optional<Certificate> certificate;
  std::string certificate_error;    // why there is no certificate (e.g. an unsupported head)
  at::Tensor tsne_labels;           // int64 [n]
  std::vector<at::Tensor> tsne;     // per modality float64 [n, 2]
  double tsne_perplexity = 0;
};

struct ReportSummary {
  std::string index_html;             // path of the page
  std::vector<std::string> tables;    // paths of the table files
  std::vector<std::string> figures;   // stems of the figures (under out_dir/figures)
  std::vector<std::string> warnings;  // one line each (also printed on stderr)
  bool figures_rendered = false;      // every figure has its PNG and SVG
};

// Computes a run's numbers: the tables' cases, FGM and PGD sweeps over eps_list, the certificate
// (eta, uni-modal radii) and the t-SNE of each modality's test embeddings. `e.data.test` is cut to
// options.test_size samples first (a seeded random subset, the same for every run).
RunAnalysis analyze_run(const std::string& name, const std::string& checkpoint, Experiment& e,
                        const ReportOptions& options);

// Writes the folder for already analysed runs.
ReportSummary write_report(const std::vector<RunAnalysis>& runs, const ReportOptions& options);

// Loads each (name, checkpoint), analyses it and writes the folder. Throws crmt::Error for bad
// names (empty, repeated), unreadable checkpoints, and, with require_figures, missing figures (after
// the tables and index.html are written).
ReportSummary write_report(const std::vector<std::pair<std::string, std::string>>& runs, const ReportOptions& options);

// A run name as a file-name stem: letters, digits, '-', '_' and '.' kept, anything else '_'.
std::string file_stem(const std::string& name);

}  // namespace crmt
