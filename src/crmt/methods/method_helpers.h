#pragma once
#include <torch/serialize/archive.h>
#include <ATen/core/Tensor.h>

#include <vector>

#include "crmt/core/batch.h"
#include "crmt/core/model_output.h"
#include "crmt/train/method.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Small pieces shared by the baseline methods (gb, ogm_ge, pmr, mixup, crmt_mix, ume_mma, rmtl).

// Each modality's own logits as OGM-GE and PMR define them for a late-fusion head:
// phi(m) C(m)^T + b / M, with C(m) = head().modality_weight(m). Their sum is the fused logits. [N, K] each
std::vector<at::Tensor> modality_logits(MultiModalNet& net, const ModelOutput& out);

// sum over the batch of softmax(logits)[i, y_i]: OGM-GE's and PMR's per-modality score.
double true_class_score(const at::Tensor& logits, const at::Tensor& labels);

// lambda ~ Beta(alpha, alpha) from torch's global generator (alpha <= 0 gives 1, no mixing).
double sample_beta(double alpha);

// Multi-modal mixup: every modality mixed with the same permutation,
// x = lambda x + (1 - lambda) x[perm]; targets y_a = y, y_b = y[perm].
struct MixedBatch {
  Batch batch;
  at::Tensor labels_a, labels_b;
  double lambda = 1.0;
};
MixedBatch mix_batch(const Batch& batch, double lambda, const at::Tensor& permutation);
// lambda CE(logits, y_a) + (1 - lambda) CE(logits, y_b)
at::Tensor mixup_cross_entropy(const at::Tensor& logits, const at::Tensor& labels_a, const at::Tensor& labels_b,
                               double lambda);

// The batch with every modality except `keep` missing (zeros, present = false), as the
// missing-modality attack removes them.
Batch only_modality(const Batch& batch, size_t keep);
// Removes modality m from the samples where drop[i, m] is true (bool [N, M]): their input becomes zero.
Batch drop_per_sample(const Batch& batch, const at::Tensor& drop);

// The tensor stored under `key`, or an undefined tensor. Always a fresh tensor: reading into a
// defined one re-points its storage (torch's InputArchive), which aliases earlier reads.
torch::Tensor read_optional_tensor(torch::serialize::InputArchive& archive, const std::string& key);

// The forward pass on a mixed batch with the mixup cross-entropy as its loss (labels = labels_a),
// shared by Mixup and CRMT-Mix.
StepResult mixup_step(MultiModalNet& net, const MixedBatch& mixed);

}  // namespace crmt
