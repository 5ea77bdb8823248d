#include "crmt/train/noise_training.h"

#include <torch/torch.h>

#include <cmath>

#include "crmt/core/error.h"
#include "crmt/train/method.h"

namespace crmt {

NoiseTraining::NoiseTraining(ModalityNoise noise, int64_t copies, double consistency, double entropy)
    : noise_(std::move(noise)), copies_(copies), consistency_(consistency), entropy_(entropy) {}

std::unique_ptr<NoiseTraining> NoiseTraining::from_config(const Config& config,
                                                          const std::vector<std::string>& modalities) {
  const std::string text = config.str("train.gaussian_noise");
  const int64_t copies = config.integer("train.noise_copies");
  const double consistency = config.real("train.noise_consistency");
  const double entropy = config.real("train.noise_entropy");
  if (copies < 1) fail("train.noise_copies must be at least 1, got {}", copies);
  if (!std::isfinite(consistency) || consistency < 0)
    fail("train.noise_consistency must be a finite number >= 0, got {}", consistency);
  if (!std::isfinite(entropy) || entropy < 0) fail("train.noise_entropy must be a finite number >= 0, got {}", entropy);
  if (text == "none" || text == "off" || text.empty()) {
    if (consistency > 0 || copies > 1)
      fail("train.noise_consistency and train.noise_copies need train.gaussian_noise (it is '{}')", text);
    return nullptr;
  }
  auto noise = parse_modality_noise(text, modalities, "train.gaussian_noise", /*require_positive=*/false);
  if (!noise.active()) return nullptr;
  if ((consistency > 0 || entropy > 0) && copies < 2)
    fail("train.noise_consistency / noise_entropy compare noisy copies: set train.noise_copies to 2 or more");
  return std::make_unique<NoiseTraining>(std::move(noise), copies, consistency, entropy);
}

Batch NoiseTraining::augment(const Batch& batch) const {
  Batch repeated = batch;
  if (copies_ > 1) {
    for (auto& x : repeated.inputs) {
      std::vector<int64_t> reps(static_cast<size_t>(x.dim()), 1);
      reps[0] = copies_;
      x = x.repeat(reps);
    }
    repeated.labels = batch.labels.repeat({copies_});
  }
  return add_modality_noise(repeated, noise_);
}

TrainingContext::LossFn NoiseTraining::wrap(TrainingContext::LossFn loss) const {
  if (consistency_ == 0 && entropy_ == 0) return loss;
  return [this, loss = std::move(loss)](const Batch& batch) {
    StepResult step = loss(batch);
    if (!step.logits.defined() || step.logits.dim() != 2 || step.logits.size(0) != batch.size() ||
        !step.labels.defined() || !step.labels.equal(batch.labels))
      fail("train.noise_consistency: this method's loss does not give one logit row per sample of the batch (it "
           "mixes or replaces samples), so its noisy copies cannot be compared; train it with noise alone "
           "(train.noise_consistency=0)");
    const auto terms = consistency_terms(step.logits.to(torch::kFloat), copies_);
    step.loss = step.loss + consistency_ * terms.consistency + entropy_ * terms.entropy;
    return step;
  };
}

ConsistencyTerms consistency_terms(const at::Tensor& logits, int64_t copies) {
  const int64_t n = logits.size(0) / copies;
  auto log_p = torch::log_softmax(logits.reshape({copies, n, logits.size(1)}), -1);  // [copies, n, K]
  auto log_mean = torch::logsumexp(log_p, 0) - std::log(static_cast<double>(copies));  // log p_bar [n, K]
  auto p_mean = log_mean.exp();
  // KL(p_bar || p_i) = sum_k p_bar (log p_bar - log p_i), averaged over copies and samples.
  auto kl = (p_mean.unsqueeze(0) * (log_mean.unsqueeze(0) - log_p)).sum(-1);
  auto entropy = -(p_mean * log_mean).sum(-1);
  return {kl.mean(), entropy.mean()};
}

}  // namespace crmt
