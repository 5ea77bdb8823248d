// PMR. Source followed: the official code, fanyunfeng-bit/Modal-Imbalance-PMR, main_Prototype_grad.py
// (read at its newest stored commit): calculate_prototype averages the embeddings of each class over
// the first tenth of the shuffled training batches in eval mode, then
// proto = (1 - momentum_coef) * mean + momentum_coef * old (momentum_coef default 0.2); prototypes are
// computed once before training and after every epoch; EU_dist gives -||a - c_k|| logits; with
// modulation 'Proto' and modulation_starts <= epoch <= modulation_ends:
// ratio = score_a_p / score_v_p from softmax(-dist)[y] summed over the batch, and the weaker modality's
// CE(-dist, y) enters with coefficient alpha (the stronger one's with 0):
// loss = CE(out) + beta * CE_proto_a + lam * CE_proto_v. Defaults there: alpha 1.0, epochs 0..70.
// The paper's prototype entropy regularization (PER) of the dominant modality in early epochs is not
// in that public script; crmt offers it as pmr.entropy_weight (mu) for pmr.entropy_epochs epochs,
// subtracting mu * mean entropy of the dominant modality's prototype softmax (off by default, as in
// the public code).
// Generalization beyond two modalities (not in the source): every modality whose prototype score is
// below the largest one gets alpha. Distances use sqrt(max(d^2, 1e-12)) so that a sample sitting on
// its prototype has a finite gradient.
#include "crmt/methods/pmr.h"

#include "crmt/core/collective.h"

#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/models/eval_mode_guard.h"
#include "crmt/train/training_context.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("pmr", R"(
alpha: 1.0            # weight of the weaker modality's prototypical cross-entropy
momentum: 0.2         # prototype momentum: new = (1 - m) mean + m old
modulation_start: 0
modulation_end: 70
proto_fraction: 0.1   # share of the training batches whose embeddings give the prototypes
entropy_weight: 0.0   # mu of the prototype entropy regularizer on the dominant modality (0 = public code)
entropy_epochs: 0     # epochs (from 0) during which the entropy regularizer is on
)");
CRMT_REGISTER_METHOD({"pmr", "PMR: prototypical modal rebalance",
                      [](const Config& c) -> std::unique_ptr<Method> { return std::make_unique<Pmr>(PmrSettings::from_config(c)); }});

PmrSettings PmrSettings::from_config(const Config& config) {
  PmrSettings s;
  s.alpha = config.real("pmr.alpha");
  s.momentum = config.real("pmr.momentum");
  s.start = config.integer("pmr.modulation_start");
  s.end = config.integer("pmr.modulation_end");
  s.proto_fraction = config.real("pmr.proto_fraction");
  s.entropy_weight = config.real("pmr.entropy_weight");
  s.entropy_epochs = config.integer("pmr.entropy_epochs");
  if (s.alpha < 0) fail("pmr.alpha must be >= 0, got {}", s.alpha);
  if (s.momentum < 0 || s.momentum >= 1) fail("pmr.momentum must lie in [0, 1), got {}", s.momentum);
  if (s.proto_fraction <= 0 || s.proto_fraction > 1) fail("pmr.proto_fraction must lie in (0, 1], got {}", s.proto_fraction);
  if (s.entropy_weight < 0) fail("pmr.entropy_weight must be >= 0, got {}", s.entropy_weight);
  return s;
}

std::vector<at::Tensor> Pmr::class_means(MultiModalNet& net, const MultiModalDataset& data, const at::Tensor& indices,
                                         int64_t batch_size) {
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net);
  const int64_t k = data.num_classes();
  std::vector<at::Tensor> sums;
  const auto on = torch::TensorOptions().dtype(torch::kDouble).device(data.device);
  auto counts = torch::zeros({k}, on);
  for (int64_t start = 0; start < indices.size(0); start += batch_size) {
    auto batch = data.batch(indices.slice(0, start, std::min(start + batch_size, indices.size(0))));
    auto out = net->forward(batch);
    auto onehot = torch::one_hot(batch.labels, k).to(torch::kDouble);  // [B, K]
    if (sums.empty())
      for (auto& e : out.embeddings) sums.push_back(torch::zeros({k, e.size(1)}, on));
    for (size_t m = 0; m < out.embeddings.size(); ++m) sums[m] += onehot.t().matmul(out.embeddings[m].to(torch::kDouble));
    counts += onehot.sum(0);
  }
  std::vector<at::Tensor> means;
  for (auto& s : sums) means.push_back((s / counts.clamp_min(1).unsqueeze(1)).to(torch::kFloat));
  return means;
}

void Pmr::update_prototypes(MultiModalNet& net, const MultiModalDataset& train, bool first) {
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(s_.proto_fraction * train.size())));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0x9e3779b97f4a7c15ULL + draws_++);
  auto indices = torch::randperm(train.size(), gen, torch::kLong).slice(0, 0, n);
  auto means = class_means(net, train, indices, 256);
  if (first || prototypes_.size() != means.size()) {
    prototypes_ = means;
    return;
  }
  for (size_t m = 0; m < means.size(); ++m) prototypes_[m] = (1 - s_.momentum) * means[m] + s_.momentum * prototypes_[m];
}

void Pmr::setup(MultiModalNet& net, const MultiModalDataset& train) {
  if (prototypes_.empty()) update_prototypes(net, train, true);
}

at::Tensor Pmr::prototype_logits(const at::Tensor& embedding, const at::Tensor& prototypes) {
  auto diff = embedding.unsqueeze(1) - prototypes.unsqueeze(0);  // [N, K, dim]
  return -diff.pow(2).sum(2).clamp_min(1e-12).sqrt();
}

StepResult Pmr::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  if (prototypes_.empty()) fail("pmr: setup() must run before loss()");
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = F::cross_entropy(r.logits, batch.labels);
  const auto m_count = r.output.embeddings.size();
  std::vector<at::Tensor> proto_logits;
  scores_.clear();
  for (size_t m = 0; m < m_count; ++m) {
    proto_logits.push_back(prototype_logits(r.output.embeddings[m], prototypes_[m]));
    scores_.push_back(true_class_score(proto_logits.back(), batch.labels));
  }
  collective().sum(scores_);  // which modality leads is decided on the global batch
  const double best = *std::max_element(scores_.begin(), scores_.end());
  const size_t dominant = std::max_element(scores_.begin(), scores_.end()) - scores_.begin();
  coefficients_.assign(m_count, 0.0);
  if (epoch_ >= s_.start && epoch_ <= s_.end && m_count > 1) {
    for (size_t m = 0; m < m_count; ++m) {
      if (scores_[m] < best) {
        coefficients_[m] = s_.alpha;
        r.loss = r.loss + s_.alpha * F::cross_entropy(proto_logits[m], batch.labels);
      }
    }
  }
  if (s_.entropy_weight > 0 && epoch_ < s_.entropy_epochs && m_count > 1) {
    auto logp = torch::log_softmax(proto_logits[dominant], 1);
    auto entropy = -(logp.exp() * logp).sum(1).mean();
    r.loss = r.loss - s_.entropy_weight * entropy;
  }
  return r;
}

void Pmr::epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) {
  epoch_ = epoch + 1;
  update_prototypes(net, context.data().train, false);
}

void Pmr::save(torch::serialize::OutputArchive& archive) const {
  archive.write("pmr_epoch", torch::tensor(epoch_, torch::kLong));
  archive.write("pmr_draws", torch::tensor(static_cast<int64_t>(draws_), torch::kLong));
  for (size_t m = 0; m < prototypes_.size(); ++m) archive.write("pmr_prototypes_" + std::to_string(m), prototypes_[m]);
}

void Pmr::load(torch::serialize::InputArchive& archive) {
  if (auto t = read_optional_tensor(archive, "pmr_epoch"); t.defined()) epoch_ = t.item<int64_t>();
  if (auto t = read_optional_tensor(archive, "pmr_draws"); t.defined()) draws_ = static_cast<uint64_t>(t.item<int64_t>());
  for (size_t m = 0; m < prototypes_.size(); ++m)
    if (auto t = read_optional_tensor(archive, "pmr_prototypes_" + std::to_string(m)); t.defined()) prototypes_[m] = t;
}

}  // namespace crmt
