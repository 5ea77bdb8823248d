#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/config.h"
#include "crmt/data/modality_noise.h"
#include "crmt/train/training_context.h"

namespace crmt {

// Training for randomized smoothing, honoured by every method because the trainer applies it to
// each batch before the method sees it (main epochs and extra stages alike):
//   train.gaussian_noise     sigma per modality (normalized input space); none or 0 = off
//   train.noise_copies       m noisy copies of each sample per step (the batch grows m-fold)
//   train.noise_consistency  lambda of the consistency regularization of Jeong and Shin (NeurIPS
//                            2020): lambda * mean_i KL(mean_j p_j || p_i) over the m copies' softmax
//   train.noise_entropy      eta: plus eta * H(mean_j p_j), their entropy term
class NoiseTraining {
 public:
  // Null when train.gaussian_noise is off; throws crmt::Error naming the key on a bad setting.
  static std::unique_ptr<NoiseTraining> from_config(const Config& config, const std::vector<std::string>& modalities);

  NoiseTraining(ModalityNoise noise, int64_t copies, double consistency, double entropy);

  // `copies` blocks of the batch, one after the other, each with its own noise.
  Batch augment(const Batch& batch) const;
  // `loss` plus the consistency terms on its logits (throws naming the method when the logits do
  // not hold one row per sample of the augmented batch, as after mixup).
  TrainingContext::LossFn wrap(TrainingContext::LossFn loss) const;
  const ModalityNoise& noise() const { return noise_; }
  // Whether the loss compares the noisy copies (consistency or entropy terms).
  bool compares_copies() const { return consistency_ > 0 || entropy_ > 0; }
  int64_t copies() const { return copies_; }

 private:
  ModalityNoise noise_;
  int64_t copies_ = 1;
  double consistency_ = 0, entropy_ = 0;
};

// Jeong and Shin's terms for logits [copies * n, K] laid out as `copies` blocks of n:
// consistency = mean over samples of (1/copies) sum_i KL(p_bar || p_i), entropy = mean H(p_bar),
// with p_i = softmax(logits of copy i) and p_bar their mean; computed from log-softmax (log-sum-exp).
struct ConsistencyTerms {
  at::Tensor consistency, entropy;  // scalars
};
ConsistencyTerms consistency_terms(const at::Tensor& logits, int64_t copies);

}  // namespace crmt
