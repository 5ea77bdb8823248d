// Gradient Blending. Source followed: Wang, Tran, Feiszli, "What makes training multi-modal
// classification networks hard?" (CVPR 2020), section 3: overfitting O_N = L^V_N - L^T_N (the
// validation loss stands in for the true loss L*), generalization change dG_{N,n} = L^V_N - L^V_{N+n},
// overfitting change dO_{N,n} = O_{N+n} - O_N, and the optimal blending weights
// w*_k = (1/Z) dG_k / dO_k^2 with Z normalizing them to sum to 1 (Proposition 1); online G-Blend
// (Algorithm 1) re-estimates them every super-epoch of n epochs and trains with
// sum_k w_k L_k over the uni-modal heads and the fused head. The validation split here is crmt's
// held-out part of the training set (data.val_fraction), like the paper's held-out V.
// Choices the paper leaves open: the first estimate needs a loss snapshot, taken at the end of the
// first epoch, so the weights are uniform until the end of the second super-epoch boundary; a head
// with dG <= 0 (no generalization gain) gets weight 0; |dO| is floored at 1e-6 (a head that did not
// overfit at all would otherwise take all the weight through a division by zero, and the paper's
// w ~ dG / dO^2 makes it dominant anyway); when no head generalized the previous weights stay.
// The uni-modal heads are linear layers on phi(m), initialized like torch::nn::Linear.
#include "crmt/methods/gradient_blending.h"

#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/models/eval_mode_guard.h"
#include "crmt/train/training_context.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("gb", R"(
super_epoch: 1        # epochs between online G-Blend weight estimates
train_samples: 1000   # training samples whose loss enters the overfitting estimate
)");
CRMT_REGISTER_METHOD({"gb", "Gradient Blending: uni-modal heads weighted by their overfitting-to-generalization ratio",
                      [](const Config& c) -> std::unique_ptr<Method> { return GradientBlending::from_config(c); }});

std::unique_ptr<GradientBlending> GradientBlending::from_config(const Config& config) {
  const auto super_epoch = config.integer("gb.super_epoch");
  const auto samples = config.integer("gb.train_samples");
  if (super_epoch < 1) fail("gb.super_epoch must be >= 1, got {}", super_epoch);
  if (samples < 1) fail("gb.train_samples must be >= 1, got {}", samples);
  return std::make_unique<GradientBlending>(super_epoch, samples);
}

void GradientBlending::setup(MultiModalNet& net, const MultiModalDataset& train) {
  const auto m_count = net->num_modalities();
  const int64_t k = net->num_classes();
  if (head_weight_.size() == m_count) return;  // already set up (tests may call setup twice)
  head_weight_.clear();
  head_bias_.clear();
  for (size_t m = 0; m < m_count; ++m) {
    const auto like = net->head().modality_weight(m);
    const int64_t dim = like.size(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
    // Drawn on the host so that a run draws the same heads on any device.
    head_weight_.push_back(torch::empty({k, dim}).uniform_(-bound, bound).to(like.device()).requires_grad_(true));
    head_bias_.push_back(torch::empty({k}).uniform_(-bound, bound).to(like.device()).requires_grad_(true));
  }
  weights_ = torch::full({static_cast<int64_t>(m_count) + 1}, 1.0 / (m_count + 1), torch::kDouble);
}

std::vector<torch::Tensor> GradientBlending::extra_parameters() {
  std::vector<torch::Tensor> out;
  for (size_t m = 0; m < head_weight_.size(); ++m) out.push_back(head_weight_[m]), out.push_back(head_bias_[m]);
  return out;
}

at::Tensor GradientBlending::unimodal_head(size_t m, const at::Tensor& embedding) const {
  return torch::addmm(head_bias_.at(m), embedding, head_weight_.at(m).t());
}

StepResult GradientBlending::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  if (head_weight_.empty()) fail("gb: setup() must run before loss()");
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  const auto m_count = head_weight_.size();
  r.loss = weights_[static_cast<int64_t>(m_count)].item<double>() * F::cross_entropy(r.logits, batch.labels);
  for (size_t m = 0; m < m_count; ++m)
    r.loss = r.loss + weights_[static_cast<int64_t>(m)].item<double>() *
                          F::cross_entropy(unimodal_head(m, r.output.embeddings[m]), batch.labels);
  return r;
}

at::Tensor GradientBlending::head_losses(MultiModalNet& net, const MultiModalDataset& data, int64_t batch_size) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net);
  const auto m_count = head_weight_.size();
  auto sums = torch::zeros({static_cast<int64_t>(m_count) + 1}, torch::kDouble);
  const auto opts = F::CrossEntropyFuncOptions().reduction(torch::kSum);
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    auto batch = data.batch(torch::arange(start, std::min(start + batch_size, data.size()), torch::kLong));
    auto out = net->forward(batch);
    for (size_t m = 0; m < m_count; ++m)
      sums[static_cast<int64_t>(m)] += F::cross_entropy(unimodal_head(m, out.embeddings[m]), batch.labels, opts).item<double>();
    sums[static_cast<int64_t>(m_count)] += F::cross_entropy(out.logits, batch.labels, opts).item<double>();
  }
  return sums / std::max<int64_t>(1, data.size());
}

at::Tensor GradientBlending::blend_weights(const at::Tensor& train_before, const at::Tensor& val_before,
                                           const at::Tensor& train_after, const at::Tensor& val_after) {
  auto d_g = val_before - val_after;
  auto d_o = (val_after - train_after) - (val_before - train_before);
  auto raw = d_g.clamp_min(0) / d_o.pow(2).clamp_min(1e-12);
  const double z = raw.sum().item<double>();
  if (!(z > 0) || !std::isfinite(z)) return {};
  return raw / z;
}

void GradientBlending::epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) {
  const auto& data = context.data();
  const int64_t bs = context.config().integer("train.eval_batch_size");
  if (data.val.size() == 0) fail("gb needs a validation split to estimate its blending weights (data.val_fraction > 0)");
  const int64_t n = std::min(train_samples_, data.train.size());
  auto train_loss = head_losses(net, data.train.subset(torch::arange(n, torch::kLong)), bs);
  auto val_loss = head_losses(net, data.val, bs);
  if (!train_before_.defined()) {
    train_before_ = train_loss, val_before_ = val_loss;
    return;
  }
  if ((epoch + 1) % super_epoch_ != 0) return;
  auto w = blend_weights(train_before_, val_before_, train_loss, val_loss);
  if (w.defined()) weights_ = w;
  train_before_ = train_loss, val_before_ = val_loss;
  std::vector<double> wv(weights_.data_ptr<double>(), weights_.data_ptr<double>() + weights_.numel());
  context.log({{"stage", "gb_weights"}, {"epoch", epoch + 1}, {"weights", wv}, {"updated", w.defined()}});
}

void GradientBlending::save(torch::serialize::OutputArchive& archive) const {
  archive.write("gb_weights", weights_);
  if (train_before_.defined()) archive.write("gb_train_before", train_before_), archive.write("gb_val_before", val_before_);
  for (size_t m = 0; m < head_weight_.size(); ++m) {
    archive.write("gb_head_weight_" + std::to_string(m), head_weight_[m].detach());
    archive.write("gb_head_bias_" + std::to_string(m), head_bias_[m].detach());
  }
}

void GradientBlending::load(torch::serialize::InputArchive& archive) {
  // A fresh tensor per read: reading into a defined tensor re-points its storage, which would
  // alias the previous field.
  auto read = [&](const std::string& key) {
    torch::Tensor t;
    return archive.try_read(key, t) ? t : torch::Tensor();
  };
  if (auto t = read("gb_weights"); t.defined()) weights_ = t.to(torch::kDouble).clone();
  if (auto t = read("gb_train_before"); t.defined()) train_before_ = t.clone();
  if (auto t = read("gb_val_before"); t.defined()) val_before_ = t.clone();
  torch::NoGradGuard no_grad;
  for (size_t m = 0; m < head_weight_.size(); ++m) {
    if (auto t = read("gb_head_weight_" + std::to_string(m)); t.defined()) head_weight_[m].copy_(t);
    if (auto t = read("gb_head_bias_" + std::to_string(m)); t.defined()) head_bias_[m].copy_(t);
  }
}

}  // namespace crmt
