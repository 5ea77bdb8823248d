#include "crmt/methods/method_helpers.h"

#include "crmt/attacks/missing_modality.h"
#include "crmt/core/error.h"

namespace crmt {

std::vector<at::Tensor> modality_logits(MultiModalNet& net, const ModelOutput& out) {
  auto& head = net->head();
  const auto m_count = static_cast<double>(out.embeddings.size());
  auto share = head.bias() / m_count;
  std::vector<at::Tensor> logits;
  for (size_t m = 0; m < out.embeddings.size(); ++m)
    logits.push_back(torch::matmul(out.embeddings[m], head.modality_weight(m).t()) + share);
  return logits;
}

double true_class_score(const at::Tensor& logits, const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  return torch::softmax(logits.detach(), 1).gather(1, labels.unsqueeze(1)).sum().item<double>();
}

double sample_beta(double alpha) {
  if (alpha <= 0) return 1.0;
  auto g = at::_standard_gamma(torch::full({2}, alpha, torch::kDouble));
  const double x = g[0].item<double>(), y = g[1].item<double>();
  return x + y > 0 ? x / (x + y) : 0.5;
}

MixedBatch mix_batch(const Batch& batch, double lambda, const at::Tensor& permutation) {
  if (lambda < 0 || lambda > 1) fail("mixup: lambda must lie in [0, 1], got {}", lambda);
  MixedBatch r;
  r.batch = batch;
  r.lambda = lambda;
  auto perm = permutation.to(batch.labels.device());
  for (size_t m = 0; m < batch.inputs.size(); ++m)
    r.batch.inputs[m] = lambda * batch.inputs[m] + (1 - lambda) * batch.inputs[m].index_select(0, perm);
  r.labels_a = batch.labels;
  r.labels_b = batch.labels.index_select(0, perm);
  return r;
}

at::Tensor mixup_cross_entropy(const at::Tensor& logits, const at::Tensor& labels_a, const at::Tensor& labels_b,
                               double lambda) {
  namespace F = torch::nn::functional;
  return lambda * F::cross_entropy(logits, labels_a) + (1 - lambda) * F::cross_entropy(logits, labels_b);
}

Batch only_modality(const Batch& batch, size_t keep) {
  std::vector<size_t> drop;
  for (size_t m = 0; m < batch.inputs.size(); ++m)
    if (m != keep) drop.push_back(m);
  return MissingModality::remove(batch, drop);
}

Batch drop_per_sample(const Batch& batch, const at::Tensor& drop) {
  Batch out = batch;
  for (size_t m = 0; m < batch.inputs.size(); ++m) {
    auto mask = drop.select(1, static_cast<int64_t>(m)).to(batch.inputs[m].device());
    std::vector<int64_t> shape(batch.inputs[m].dim(), 1);
    shape[0] = batch.inputs[m].size(0);
    out.inputs[m] = batch.inputs[m].masked_fill(mask.view(shape), 0.0);
  }
  return out;
}

torch::Tensor read_optional_tensor(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  return archive.try_read(key, t) ? t.clone() : torch::Tensor();
}

StepResult mixup_step(MultiModalNet& net, const MixedBatch& mixed) {
  StepResult r;
  r.output = net->forward(mixed.batch);
  r.logits = r.output.logits;
  r.labels = mixed.labels_a;
  r.loss = mixup_cross_entropy(r.logits, mixed.labels_a, mixed.labels_b, mixed.lambda);
  return r;
}

}  // namespace crmt
