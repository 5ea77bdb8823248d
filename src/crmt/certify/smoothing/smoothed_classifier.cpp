#include "crmt/certify/smoothing/smoothed_classifier.h"

#include <torch/torch.h>

#include <cmath>

#include "crmt/certify/smoothing/confidence.h"
#include "crmt/core/error.h"
#include "crmt/data/dataset.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt::smoothing {

void SmoothingOptions::validate(const std::vector<std::string>& modalities) const {
  if (samples_select < 1) fail("--samples-select must be at least 1, got {}", samples_select);
  if (samples_estimate < 1) fail("--samples-estimate must be at least 1, got {}", samples_estimate);
  if (samples_select > samples_estimate)
    fail("--samples-select ({}) must not exceed --samples-estimate ({}): the class is chosen on fewer copies than "
         "bound it",
         samples_select, samples_estimate);
  if (!(alpha > 0 && alpha < 1)) fail("--alpha must lie strictly between 0 and 1, got {}", alpha);
  if (noise_batch < 1) fail("--noise-batch must be at least 1, got {}", noise_batch);
  if (noise.modalities != modalities)
    fail("--sigma: the noise is for modalities [{}] but the model has [{}]", fmt::join(noise.modalities, ", "),
         fmt::join(modalities, ", "));
  for (size_t m = 0; m < modalities.size(); ++m)
    if (!(noise.sigma[m] > 0) || !std::isfinite(noise.sigma[m]))
      fail("--sigma: modality '{}' needs a finite sigma > 0, got {}", modalities[m], noise.sigma[m]);
}

ModalityNoise smoothing_noise(MultiModalNet& net, const Config& config, const std::string& sigma_option,
                              const std::string& who) {
  std::vector<std::string> modalities;
  for (const auto& spec : net->specs()) modalities.push_back(spec.name);
  if (!sigma_option.empty()) return parse_modality_noise(sigma_option, modalities, "--sigma", /*require_positive=*/true);
  const std::string trained = config.str("train.gaussian_noise");
  if (trained == "none" || trained == "off")
    fail("{}: the model was trained without noise (train.gaussian_noise is none); give --sigma", who);
  return parse_modality_noise(trained, modalities, who + ": train.gaussian_noise", /*require_positive=*/true);
}

at::Tensor noisy_prediction_counts(MultiModalNet& net, const std::vector<at::Tensor>& inputs,
                                   const ModalityNoise& noise, int64_t copies, int64_t noise_batch) {
  const int64_t K = net->num_classes();
  const auto device = inputs.at(0).device();
  auto counts = torch::zeros({K}, torch::TensorOptions().dtype(torch::kLong).device(device));
  std::vector<at::Tensor> noisy(inputs.size());
  for (int64_t done = 0; done < copies; done += noise_batch) {
    const int64_t b = std::min(noise_batch, copies - done);
    for (size_t m = 0; m < inputs.size(); ++m) {
      auto shape = inputs[m].sizes().vec();
      shape[0] = b;
      noisy[m] = torch::randn(shape, inputs[m].options()).mul_(noise.sigma[m]).add_(inputs[m]);
    }
    counts += torch::bincount(net->forward(noisy).logits.argmax(1), {}, K);
  }
  return counts.cpu();
}

namespace {

void seed_for(uint64_t seed, int64_t index) { torch::manual_seed(sample_seed(seed, index)); }

}  // namespace

SmoothedCertificate certify_one(MultiModalNet& net, const std::vector<at::Tensor>& inputs,
                                const SmoothingOptions& options, int64_t index) {
  seed_for(options.seed, index);
  // Two independent draws: the class is chosen on the first, its probability bounded on the second
  // (reusing the first would bias the bound towards the chosen class).
  const auto select = noisy_prediction_counts(net, inputs, options.noise, options.samples_select, options.noise_batch);
  const auto estimate =
      noisy_prediction_counts(net, inputs, options.noise, options.samples_estimate, options.noise_batch);
  SmoothedCertificate c;
  c.candidate = select.argmax().item<int64_t>();
  c.count = estimate[c.candidate].item<int64_t>();
  c.p_lower = clopper_pearson_lower(c.count, options.samples_estimate, options.alpha);
  if (c.p_lower > 0.5) {
    c.prediction = c.candidate;
    c.quantile = normal_quantile(c.p_lower);
  }
  return c;
}

at::Tensor predict_smoothed(MultiModalNet& net, const Batch& batch, const SmoothingOptions& options,
                            int64_t first_index) {
  EvalModeGuard eval(*net);
  torch::InferenceMode no_grad;
  const auto inputs = net->align(batch);
  const int64_t N = batch.size();
  auto out = torch::full({N}, -1, torch::kLong);
  for (int64_t i = 0; i < N; ++i) {
    std::vector<at::Tensor> one;
    for (const auto& x : inputs) one.push_back(x.slice(0, i, i + 1));
    seed_for(options.seed, first_index + i);
    const auto counts = noisy_prediction_counts(net, one, options.noise, options.samples_estimate, options.noise_batch);
    const auto [values, indices] = counts.topk(std::min<int64_t>(2, counts.size(0)));
    const int64_t n_a = values[0].item<int64_t>();
    const int64_t n_b = counts.size(0) > 1 ? values[1].item<int64_t>() : 0;
    if (binomial_test_half(n_a, n_a + n_b) <= options.alpha) out[i] = indices[0].item<int64_t>();
  }
  return out;
}

}  // namespace crmt::smoothing
