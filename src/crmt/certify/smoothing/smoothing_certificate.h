#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/certify/smoothing/smoothed_classifier.h"
#include "crmt/core/table.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt::smoothing {

// Randomized-smoothing certificates of a split, per sample and summarized like the Lipschitz and
// CROWN certificates (certify/certificate.h). With noise sigma_m on modality m the smoothed
// classifier is constant on the ellipsoid sum_m ||delta_m||^2 / sigma_m^2 < Phi^-1(p_A)^2 (Cohen et
// al.'s Theorem 1 after rescaling each modality by 1 / sigma_m), which contains
//   the joint l2 ball of radius min_m sigma_m Phi^-1(p_A)   (Theorems 3.3 / 3.5's budget), and
//   for each m the ball of radius sigma_m Phi^-1(p_A) in modality m alone (Proposition 3.4's).
// Each holds with probability at least 1 - alpha over the Monte Carlo noise.
struct SmoothingSample {
  int64_t label = 0;
  SmoothedCertificate certificate;
  double radius = 0;                    // joint l2 radius (0 when abstaining)
  std::vector<double> unimodal_radius;  // per modality
  bool correct() const { return !certificate.abstained() && certificate.prediction == label; }
};

struct SmoothingCertificate {
  SmoothingOptions options;
  std::vector<std::string> modalities;
  int64_t num_classes = 0;
  std::vector<SmoothingSample> samples;
  double seconds = 0;  // wall time of the whole certification

  // Summary (filled by certify_smoothing / summarize).
  std::vector<double> radii;
  double clean_accuracy = 0;  // the smoothed classifier's: certified-correct share at radius 0
  double abstain_rate = 0;
  std::vector<double> certified_accuracy;               // per radius: correct and radius >= r
  std::vector<std::vector<double>> unimodal_certified;  // [M][R]: correct and unimodal_radius[m] >= r
  double mean_radius = 0, median_radius = 0;            // over correctly certified samples
  std::vector<double> unimodal_median_radius;           // per modality, same samples
  int64_t weak_modality = -1;  // smallest uni-modal certified accuracy summed over radii; -1 = all equal

  double seconds_per_sample() const { return samples.empty() ? 0 : seconds / static_cast<double>(samples.size()); }
};

// CERTIFY on every sample of `data` (the model in eval mode), in chunks of `batch_size` samples read at
// a time; sample i of the split is seeded with (options.seed, i), so a certificate does not depend on
// which other samples are certified. Progress on stderr when `show_progress`.
SmoothingCertificate certify_smoothing(MultiModalNet& net, const MultiModalDataset& data, const std::vector<double>& radii,
                                       const SmoothingOptions& options, bool show_progress = false,
                                       int64_t batch_size = 64);

void summarize(SmoothingCertificate& cert, const std::vector<double>& radii);

// Machines: the fields of certificate_json (bound "smoothing", sound, radii, certified_accuracy,
// median_radius, ...) plus the noise, n0, n, alpha, the confidence 1 - alpha and the per-modality ones.
nlohmann::json smoothing_certificate_json(const SmoothingCertificate& cert, bool per_sample = false);
// People: joint and per-modality certified accuracy per radius, then the weak modality.
std::string smoothing_certificate_report(const SmoothingCertificate& cert);
// One row per sample: index, label, prediction (or abstain), count, p_lower, joint and uni-modal radii.
Table smoothing_per_sample_table(const SmoothingCertificate& cert);

}  // namespace crmt::smoothing
