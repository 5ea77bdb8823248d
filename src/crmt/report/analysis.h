#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "crmt/certify/certificate.h"
#include "crmt/certify/smoothing/smoothing_certificate.h"
#include "crmt/eval/evaluator.h"
#include "crmt/eval/sweep.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/report/options.h"

namespace crmt {

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
  std::optional<smoothing::SmoothingCertificate> smoothing;  // --bound smoothing
  at::Tensor tsne_labels;           // int64 [n]
  std::vector<at::Tensor> tsne;     // per modality float64 [n, 2]
  double tsne_perplexity = 0;
};

// Computes a run's numbers: the tables' cases, FGM and PGD sweeps over eps_list, the certificate
// (eta, uni-modal radii) and the t-SNE of each modality's test embeddings. `e.data.test` is cut to
// options.test_size samples first (a seeded random subset, the same for every run).
RunAnalysis analyze_run(const std::string& name, const std::string& checkpoint, Experiment& e,
                        const ReportOptions& options);

// The radii of the safe-share curves: `requested`, or when it is empty 41 points up to the largest
// modality's 95th percentile of finite uni-modal radii among correct samples.
std::vector<double> safe_share_radii(const Certificate& cert, const std::vector<double>& requested);

}  // namespace crmt
