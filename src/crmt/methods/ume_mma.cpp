// UME-MMA. Source: Li et al., "What makes for robust multi-modal models in the face of missing
// modalities?" (arXiv 2310.06383, 2023): when one modality dominates, train the modalities as
// separate uni-modal models and ensemble them (UME); missing-modality adaptation (MMA) then fine-tunes
// with modalities randomly absent so that the fused prediction stays good when one is missing. The
// CRMT paper compares with it on Kinetics-Sounds (appendix, Table 10). Adapted to crmt's late-fusion
// models: the uni-modal models are the encoders with their slices of the linear head (the head's
// logits are exactly the sum of these uni-modal logits), so no extra classifiers are needed; a
// missing modality is zeros in the normalized space, as in the evaluation.
#include "crmt/methods/ume_mma.h"

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("ume_mma", R"(
unimodal_epochs: 2    # epochs of independent uni-modal training (the uni-modal ensemble)
missing_rate: 0.3     # adaptation: probability that a sample loses one modality
)");
CRMT_REGISTER_METHOD({"ume_mma", "UME-MMA: uni-modal ensemble, then adaptation with missing modalities",
                      [](const Config& c) -> std::unique_ptr<Method> { return UmeMma::from_config(c); }});

std::unique_ptr<UmeMma> UmeMma::from_config(const Config& config) {
  const auto epochs = config.integer("ume_mma.unimodal_epochs");
  const double rate = config.real("ume_mma.missing_rate");
  if (epochs < 0) fail("ume_mma.unimodal_epochs must be >= 0, got {}", epochs);
  if (rate < 0 || rate > 1) fail("ume_mma.missing_rate must lie in [0, 1], got {}", rate);
  return std::make_unique<UmeMma>(epochs, rate);
}

StepResult UmeMma::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  StepResult r;
  r.labels = batch.labels;
  if (in_unimodal_stage()) {
    r.output = net->forward(batch);
    r.logits = r.output.logits;
    auto per_modality = modality_logits(net, r.output);
    for (auto& logits : per_modality) {
      auto l = F::cross_entropy(logits, batch.labels);
      r.loss = r.loss.defined() ? r.loss + l : l;
    }
    return r;
  }
  const int64_t n = batch.size(), m_count = static_cast<int64_t>(batch.inputs.size());
  auto lose = torch::rand({n}) < missing_rate_;
  auto which = torch::randint(m_count, {n}, torch::kLong);
  last_dropped_ = torch::one_hot(which, m_count).to(torch::kBool) & lose.unsqueeze(1);
  if (m_count < 2) last_dropped_.zero_();  // never remove the only modality
  auto adapted = drop_per_sample(batch, last_dropped_);
  r.output = net->forward(adapted);
  r.logits = r.output.logits;
  r.loss = F::cross_entropy(r.logits, batch.labels);
  return r;
}

void UmeMma::save(torch::serialize::OutputArchive& archive) const {
  archive.write("ume_mma_epoch", torch::tensor(epoch_, torch::kLong));
}

void UmeMma::load(torch::serialize::InputArchive& archive) {
  torch::Tensor t;
  if (archive.try_read("ume_mma_epoch", t)) epoch_ = t.item<int64_t>();
}

}  // namespace crmt
