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

namespace crmt {

std::unique_ptr<Rmtl> Rmtl::from_config(const Config& config) {
  const double w = config.real("rmtl.unimodal_weight");
  if (w < 0) fail("rmtl.unimodal_weight must be >= 0, got {}", w);
  return std::make_unique<Rmtl>(w);
}

StepResult Rmtl::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = F::cross_entropy(r.logits, batch.labels);
  last_tasks_.clear();
  if (w_ == 0) return r;
  for (size_t m = 0; m < batch.inputs.size(); ++m) {
    last_tasks_.push_back(only_modality(batch, m));
    r.loss = r.loss + w_ * F::cross_entropy(net->forward(last_tasks_.back()).logits, batch.labels);
  }
  return r;
}

}  // namespace crmt
