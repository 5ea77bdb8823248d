#pragma once
#include <string>
#include <vector>

#include "crmt/core/batch.h"

namespace crmt {

// Isotropic Gaussian noise with one standard deviation per modality, in the model's normalized input
// space: the noise of randomized smoothing (certify/smoothing/) and of noise-augmented training
// (train.gaussian_noise). sigma[m] = 0 leaves modality m clean.
struct ModalityNoise {
  std::vector<std::string> modalities;
  std::vector<double> sigma;  // in the order of `modalities`

  // Whether any modality gets noise.
  bool active() const;
  // The sigma of modality `name`; throws crmt::Error naming the known modalities.
  double of(const std::string& name) const;
  // The smallest sigma: the joint l2 radius of a smoothed classifier is this times Phi^-1(p_A).
  double min_sigma() const;
  // "audio=0.25,visual=0.5", as parse_modality_noise reads it.
  std::string to_string() const;
};

// Reads "0.5" (every modality the same) or "audio=0.25,visual=0.5" for `modalities`. Every sigma must
// be a finite number >= 0; with `require_positive` (certificates) every modality needs one > 0, so a
// per-modality list must name all of them. Errors name `what` (e.g. "--sigma", "train.gaussian_noise").
ModalityNoise parse_modality_noise(const std::string& text, const std::vector<std::string>& modalities,
                                   const std::string& what, bool require_positive);

// `batch` plus noise drawn from the default generator of each input's device (seed it with
// torch::manual_seed for repeatable draws). Modalities of the batch that `noise` does not name, or
// with sigma 0, stay as they are; missing modalities (present = false) get no noise.
Batch add_modality_noise(const Batch& batch, const ModalityNoise& noise);

}  // namespace crmt
