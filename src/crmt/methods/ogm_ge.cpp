// OGM-GE. Source followed: the official code, GeWu-Lab/OGM-GE_CVPR2022, main.py train_epoch (read at
// commit 343dc1d): out_v / out_a = each modality's columns of the concat head plus half the bias;
// score = sum over the batch of softmax(out)[y]; ratio_v = score_v / score_a; if ratio_v > 1 then
// coeff_v = 1 - tanh(alpha * relu(ratio_v)), coeff_a = 1, else the reverse; for epochs
// modulation_starts <= epoch <= modulation_ends every encoder parameter whose gradient is 4-D
// (convolution kernels) becomes grad * coeff + N(0, grad.std() + 1e-8) (OGM_GE) or grad * coeff
// (OGM). The repository's first release (March 2022) used relu(ratio - 1) for both modalities; that
// form is coefficient: offset. Defaults (README): alpha 0.1 for VGGSound, 0.8 for CREMA-D,
// modulation epochs 0..50, SGD lr 1e-3.
// Generalization beyond two modalities (not in the source): ratio_m = s_m / min_{u != m} s_u, so the
// weakest modality is never slowed and, for two modalities, this is exactly the official rule.
#include "crmt/methods/ogm_ge.h"

#include <nlohmann/json.hpp>

#include "crmt/core/collective.h"
#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("ogm_ge", R"(
alpha: 0.8
modulation_start: 0   # first epoch (0-based) with modulation
modulation_end: 50    # last epoch (inclusive) with modulation
ge: true              # add Gaussian noise with the gradient's own std (GE)
coefficient: code     # code: 1 - tanh(alpha * ratio) (paper Eq. 10, current code) | offset: 1 - tanh(alpha * (ratio - 1)) (first release)
modulate: conv        # conv: 4-D kernels only (official) | weights: every >= 2-D encoder weight | all
)");
CRMT_REGISTER_METHOD({"ogm_ge", "OGM-GE: on-the-fly gradient modulation of the dominant modality, with Gaussian noise",
                      [](const Config& c) -> std::unique_ptr<Method> { return std::make_unique<OgmGe>(OgmGeSettings::from_config(c)); }});

OgmGeSettings OgmGeSettings::from_config(const Config& config) {
  OgmGeSettings s;
  s.alpha = config.real("ogm_ge.alpha");
  s.start = config.integer("ogm_ge.modulation_start");
  s.end = config.integer("ogm_ge.modulation_end");
  s.ge = config.boolean("ogm_ge.ge");
  const auto form = config.str("ogm_ge.coefficient");
  if (form != "code" && form != "offset") fail("ogm_ge.coefficient must be code or offset, got '{}'", form);
  s.offset = form == "offset";
  s.modulate = config.str("ogm_ge.modulate");
  s.seed = static_cast<uint64_t>(config.integer("seed"));
  if (s.modulate != "conv" && s.modulate != "weights" && s.modulate != "all")
    fail("ogm_ge.modulate must be conv, weights or all, got '{}'", s.modulate);
  if (s.alpha < 0) fail("ogm_ge.alpha must be >= 0, got {}", s.alpha);
  return s;
}

std::vector<at::Tensor> OgmGe::modulated_parameters(MultiModalNet& net, size_t m) const {
  std::vector<at::Tensor> out;
  for (auto& p : net->encoder_parameters(m)) {
    if (s_.modulate == "conv" && p.dim() != 4) continue;
    if (s_.modulate == "weights" && p.dim() < 2) continue;
    out.push_back(p);
  }
  return out;
}

void OgmGe::setup(MultiModalNet& net, const MultiModalDataset& train) {
  for (size_t m = 0; m < net->num_modalities(); ++m)
    if (modulated_parameters(net, m).empty())
      fail("ogm_ge.modulate is '{}' but the encoder of modality '{}' has no such tensors (use weights or all)",
           s_.modulate, net->specs()[m].name);
}

double OgmGe::coefficient(double ratio) const {
  if (ratio <= 1) return 1.0;
  return 1.0 - std::tanh(s_.alpha * (s_.offset ? ratio - 1.0 : ratio));
}

StepResult OgmGe::loss(MultiModalNet& net, const Batch& batch) {
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = torch::nn::functional::cross_entropy(r.logits, batch.labels);
  {
    torch::NoGradGuard no_grad;
    auto logits = modality_logits(net, r.output);
    scores_.clear();
    for (auto& l : logits) scores_.push_back(true_class_score(l, batch.labels));
    collective().sum(scores_);  // the global batch's scores
  }
  coefficients_.assign(scores_.size(), 1.0);
  for (size_t m = 0; m < scores_.size() && scores_.size() > 1; ++m) {
    double other = std::numeric_limits<double>::infinity();
    for (size_t u = 0; u < scores_.size(); ++u)
      if (u != m) other = std::min(other, scores_[u]);
    coefficients_[m] = coefficient(scores_[m] / std::max(other, 1e-30));
  }
  return r;
}

void OgmGe::before_step(MultiModalNet& net, const Batch& batch, const StepResult& step) {
  if (epoch_ < s_.start || epoch_ > s_.end) return;
  torch::NoGradGuard no_grad;
  const uint64_t draw = noise_draws_++;
  for (size_t m = 0; m < coefficients_.size(); ++m) {
    for (auto& p : modulated_parameters(net, m)) {
      auto& g = p.mutable_grad();
      if (!g.defined()) continue;
      const double std = s_.ge && g.numel() > 1 ? g.std().item<double>() : 0.0;
      g.mul_(coefficients_[m]);
      if (s_.ge) {
        // A private generator per step and device, seeded the same on every rank.
        auto gen = at::globalContext().defaultGenerator(g.device()).clone();
        gen.set_current_seed(s_.seed * 0x9e3779b97f4a7c15ULL + draw);
        g.add_(at::normal(0.0, 1.0, g.sizes(), gen, g.options()) * (std + 1e-8));
      }
    }
  }
}

void OgmGe::save(torch::serialize::OutputArchive& archive) const {
  archive.write("ogm_ge_epoch", torch::tensor(epoch_, torch::kLong));
  archive.write("ogm_ge_noise_draws", torch::tensor(static_cast<int64_t>(noise_draws_), torch::kLong));
}

void OgmGe::load(torch::serialize::InputArchive& archive) {
  torch::Tensor t;
  if (archive.try_read("ogm_ge_epoch", t)) epoch_ = t.item<int64_t>();
  torch::Tensor draws;
  if (archive.try_read("ogm_ge_noise_draws", draws)) noise_draws_ = static_cast<uint64_t>(draws.item<int64_t>());
}

}  // namespace crmt
