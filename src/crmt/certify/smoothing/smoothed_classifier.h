#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/config.h"
#include "crmt/data/modality_noise.h"
#include "crmt/models/multimodal_net.h"

namespace crmt::smoothing {

// The smoothed classifier g(x) = argmax_c P(f(x + e) = c), e ~ N(0, diag(sigma_m^2)) per modality m,
// of a base classifier f (any MultiModalNet: smoothing needs no layer rules), estimated by Monte Carlo
// as Cohen, Rosenfeld and Kolter (ICML 2019) do.
struct SmoothingOptions {
  ModalityNoise noise;          // per modality, > 0 for every modality of the model
  int64_t samples_select = 100;     // n0: noisy copies that choose the class
  int64_t samples_estimate = 100000;  // n: noisy copies that bound its probability
  double alpha = 0.001;         // the certificate holds with probability >= 1 - alpha
  int64_t noise_batch = 1000;   // noisy copies per forward pass
  uint64_t seed = 0;            // sample i draws its noise from a generator seeded with (seed, i)

  // Throws crmt::Error naming the option on n0 < 1, n < 1, n0 > n, alpha outside (0, 1), batch < 1,
  // or a noise that is not positive for every one of `modalities`.
  void validate(const std::vector<std::string>& modalities) const;
};

// The noise that smooths `net`: `sigma_option` (--sigma) when given, else the model's training noise
// (train.gaussian_noise of its `config`), positive on every modality of the model. `who` names the
// model in errors; throws crmt::Error when neither gives a noise.
ModalityNoise smoothing_noise(MultiModalNet& net, const Config& config, const std::string& sigma_option,
                              const std::string& who);

// What CERTIFY found for one input.
struct SmoothedCertificate {
  int64_t prediction = -1;   // the class chosen by the n0 copies; -1 = abstain (p_lower <= 1/2)
  int64_t candidate = 0;     // that class, also when abstaining
  int64_t count = 0;         // copies of the n that f classified as the candidate
  double p_lower = 0;        // Clopper-Pearson lower bound on P(f(x + e) = candidate) at level alpha
  double quantile = 0;       // Phi^-1(p_lower) when certified, else 0: every radius is sigma times it
  bool abstained() const { return prediction < 0; }
};

// Counts [K] (int64, on the host) of f's predictions on `copies` noisy copies of the single sample
// `inputs` (one tensor per modality in the model's order, leading dimension 1), drawn from the
// default generators as they stand.
at::Tensor noisy_prediction_counts(MultiModalNet& net, const std::vector<at::Tensor>& inputs,
                                   const ModalityNoise& noise, int64_t copies, int64_t noise_batch);

// Cohen's CERTIFY for one sample (model in eval mode, inputs as for noisy_prediction_counts), seeding
// the default generators with (options.seed, index) first.
SmoothedCertificate certify_one(MultiModalNet& net, const std::vector<at::Tensor>& inputs,
                                const SmoothingOptions& options, int64_t index);

// Cohen's PREDICT for each sample of `batch`: n = options.samples_estimate copies, the top two counts
// tested against 1/2 at level alpha; -1 = abstain. Returns int64 [N] on the host. Sample i of the
// batch is seeded with (options.seed, first_index + i).
at::Tensor predict_smoothed(MultiModalNet& net, const Batch& batch, const SmoothingOptions& options,
                            int64_t first_index = 0);

}  // namespace crmt::smoothing
