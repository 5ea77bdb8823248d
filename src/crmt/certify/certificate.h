#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/certify/lipschitz.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"
#include "crmt/core/table.h"

namespace crmt {

// Vulnerability indicators eta[m][y][j] (float64 [M, K, K], 0 on the diagonal): how fast modality m
// can move the fused margin h_y - h_j per unit of l2 perturbation of x(m).
//   concat head (Theorem 3.3):     eta = Lipschitz of (W_y(m) - W_j(m)) phi(m) = c_j(m) tau_j(m)
//   orthogonal head (Theorem 3.5): eta = |a_y(m)| tau_y(m) + |a_j(m)| tau_j(m)
// eta[m] is the head's FusionHeadImpl::vulnerability(m, tau[m], pairwise[m]). Throws crmt::Error
// when the estimate's shapes do not match the model.
at::Tensor vulnerability_indicators(MultiModalNet& net, const LipschitzEstimate& lipschitz);

// One sample's certificate. p = prediction; for every j != p the bound
// r_j = (h_p - h_j) / sqrt(sum_m eta[m][p][j]^2); radius = min_j r_j. A zero denominator gives an
// infinite r_j (the margin cannot change); a zero numerator (a tie) gives 0.
struct SampleCertificate {
  int64_t label = 0;
  int64_t prediction = 0;
  int64_t nearest_class = 0;     // the j attaining the minimum
  int64_t runner_up = 0;         // j* = argmax of the non-predicted logits (the paper's "closest label")
  double radius = 0;             // min_j r_j: sound against every class
  double runner_up_radius = 0;   // r_{j*}: the paper's Eq. 5 / Eq. 10 (may exceed `radius`)
  std::vector<double> unimodal_radius;  // per modality m (Proposition 3.4): min_j (h_p - h_j) / eta[m][p][j]

  bool correct() const { return label == prediction; }
};

struct Certificate {
  // How the radii were bounded: "lipschitz" (from `lipschitz`, empirical or guaranteed) or "crown"
  // (bound propagation, certify/crown/; eta still comes from `lipschitz`).
  std::string bound = "lipschitz";
  LipschitzEstimate lipschitz;
  std::string head_kind;
  std::vector<std::string> modalities;
  int64_t num_classes = 0;
  at::Tensor eta;  // float64 [M, K, K]
  std::vector<SampleCertificate> samples;

  // Summary (filled by certify / summarize).
  std::vector<double> radii;
  double clean_accuracy = 0;
  std::vector<double> certified_accuracy;                // per radius: correct and radius >= r
  std::vector<std::vector<double>> unimodal_certified;   // [M][R]: correct and unimodal_radius[m] >= r
  double mean_radius = 0;    // over correctly classified samples (may be inf)
  double median_radius = 0;  // over correctly classified samples
  std::vector<double> mean_eta;  // per modality: mean over y != j of eta[m][y][j]
  size_t preferred_modality = 0;  // argmax of mean_eta: uni-modal attacks on it are most effective

  // mean_eta[a] / mean_eta[b] (inf when the denominator is 0).
  double eta_ratio(size_t a, size_t b) const;
};

// Certifies every sample of `data` (predictions of `net` in eval mode) with the given Lipschitz
// estimate, and summarizes at `radii`.
Certificate certify(MultiModalNet& net, const MultiModalDataset& data, const LipschitzEstimate& lipschitz,
                    const std::vector<double>& radii = {0.0, 0.1, 0.25, 0.5, 1.0}, int64_t batch_size = 256);

// Recomputes the summary fields of `cert` at `radii` from its samples and eta.
void summarize(Certificate& cert, const std::vector<double>& radii);

// The radii's kind for people and machines: "lipschitz-empirical", "lipschitz-guaranteed" or "crown".
std::string bound_name(const Certificate& cert);
// Whether the radii are guarantees (guaranteed Lipschitz constants or bound propagation).
bool bound_is_sound(const Certificate& cert);

// The radius a bound numerator - r * denominator > 0 allows: 0 when the numerator is not positive (a
// tie), infinity when the denominator is 0 (nothing can move the margin).
double bound_ratio(double numerator, double denominator);

// Share of samples that are correctly classified with certified radius >= r.
double certified_accuracy_at(const Certificate& cert, double r);

// Machines: every summary number, eta, tau and (optionally) the per-sample certificates.
// Non-finite numbers are written as the strings "inf" / "nan".
nlohmann::json certificate_json(const Certificate& cert, bool per_sample = false);
// People: certified accuracy per radius (with the Lipschitz kind on every row).
Table certified_accuracy_table(const Certificate& cert);
// People: per modality mean eta, ratio to the first modality and uni-modal safe shares.
Table vulnerability_table(const Certificate& cert);
// Both tables with a heading, as printed by `crmt certify`.
std::string certificate_report(const Certificate& cert);
// One row per sample: index, label, prediction, runner-up, radius, runner-up radius, uni-modal radii.
Table per_sample_table(const Certificate& cert);

// Formats a radius or ratio for people ("inf" for infinity).
std::string format_number(double value, int precision = 4);
// A number for machines: JSON has no NaN or infinity, so they become "nan", "inf" and "-inf".
nlohmann::json json_number(double value);

}  // namespace crmt
