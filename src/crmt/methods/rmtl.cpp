// RMTL. Source: Ma, Ren, Zhao, Testuggine, Peng, "Are multimodal transformers robust to missing
// modality?" (CVPR 2022), section 4: multi-task learning in which the same model is optimized on the
// full-modal input and on modality-specific inputs with the other modalities missing; and the CRMT
// paper's appendix (Table 10: "a multi-task learning framework ... incorporating both full-modal and
// modality-specific tasks"). Ma et al. also search the fusion layer of a transformer; that part does
// not apply to late fusion and is left out. A missing modality is zeros in the normalized space
// (crmt's MissingModality), the same "missing" the evaluation uses.
#include "crmt/methods/rmtl.h"

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("rmtl", R"(
unimodal_weight: 1.0  # weight of each modality-specific task (other modalities missing)
)");
CRMT_REGISTER_METHOD({"rmtl", "RMTL: robust multi-task learning over every modality subset",
                      [](const Config& c) -> std::unique_ptr<Method> { return Rmtl::from_config(c); }});

std::unique_ptr<Rmtl> Rmtl::from_config(const Config& config) {
  const double w = config.real("rmtl.unimodal_weight");
  if (w < 0) fail("rmtl.unimodal_weight must be >= 0, got {}", w);
  return std::make_unique<Rmtl>(w);
}

StepResult Rmtl::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  last_tasks_.clear();
  if (w_ > 0)
    for (size_t m = 0; m < batch.inputs.size(); ++m) last_tasks_.push_back(only_modality(batch, m));
  // All tasks go through the model in one forward pass. With batch-norm encoders, separate passes
  // would let the all-zero inputs of the modality-specific tasks drag the running statistics far
  // from the ones the full-modal task trains with (clean accuracy fell to ~50% on the embedded
  // data); one pass normalizes every task with the same statistics in training and evaluation.
  Batch all = batch;
  for (size_t m = 0; m < batch.inputs.size(); ++m) {
    std::vector<at::Tensor> parts{batch.inputs[m]};
    for (const auto& task : last_tasks_) parts.push_back(task.inputs[m]);
    all.inputs[m] = torch::cat(parts, 0);
  }
  all.labels = batch.labels.repeat({static_cast<int64_t>(last_tasks_.size()) + 1});
  auto out = net->forward(all);
  const int64_t n = batch.size();
  StepResult r;
  r.logits = out.logits.narrow(0, 0, n);
  r.labels = batch.labels;
  for (auto& e : out.embeddings) r.output.embeddings.push_back(e.narrow(0, 0, n));
  for (auto& s : out.unimodal_scores) r.output.unimodal_scores.push_back(s.narrow(0, 0, n));
  r.output.logits = r.logits;
  r.loss = F::cross_entropy(r.logits, batch.labels);
  for (size_t t = 0; t < last_tasks_.size(); ++t)
    r.loss = r.loss + w_ * F::cross_entropy(out.logits.narrow(0, static_cast<int64_t>(t + 1) * n, n), batch.labels);
  return r;
}

}  // namespace crmt
