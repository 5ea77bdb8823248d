#include "crmt/methods/crmt.h"

#include <nlohmann/json.hpp>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/methods/crmt_losses.h"
#include "crmt/methods/official_lipschitz.h"
#include "crmt/models/orthogonal_head.h"
#include "crmt/train/training_context.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("crmt", R"(
rho: 2.0            # weight of the margin regulariser L1 in step 1
l1_floor: 0.00001   # L1 = log(sum + floor): the official code's 1e-5; 0 = the paper's Eq. 12
step1: true
step2: true
step2_epochs: 5
step2_lr_scale: 0.03
step2_weight_decay: 0.01
iterations: 1
a_init: 0.1
lipschitz_samples: 2000          # training samples the Lipschitz estimate reads (0 = all)
# Where the official code differs (docs/fidelity.md); the defaults follow the paper.
step2_epochs_rule: fixed         # fixed: step2_epochs | official: train.epochs / 3 - 1 (none below 6 epochs)
step2_batch_norm: frozen         # frozen: encoders fixed, eval mode (paper) | train: training mode, statistics re-estimated (official)
lipschitz_estimator: unimodal    # unimodal: gradients of the uni-modal scores (paper) | official: its get_lip, slips included
step2_from: best                 # best: step 2 on the best checkpoint | last: on the last epoch's weights (official)
step2_keep: final                # final: step 2's result is the run's | best_validation: its epochs compete with the main ones (official)
)");
// CRMT and its ablations are one method with different settings; the name fixes the switches so
// that a config cannot silently run e.g. "ojt" with step 2 on.
CRMT_REGISTER_METHOD({"crmt_jt", "CRMT-JT: orthogonal head, step 1 (CE + rho L1), step 2 (class weights a(m))",
                      [](const Config& c) -> std::unique_ptr<Method> { return std::make_unique<Crmt>(CrmtSettings::from_config(c)); }});
CRMT_REGISTER_METHOD({"ojt", "ablation: the orthogonal head alone (rho 0, no step 2)",
                      [](const Config& c) -> std::unique_ptr<Method> {
                        auto s = CrmtSettings::from_config(c);
                        s.rho = 0, s.step2 = false;
                        return std::make_unique<Crmt>(s);
                      }});
CRMT_REGISTER_METHOD({"crmt_step1", "ablation: CRMT step 1 only (no step 2)",
                      [](const Config& c) -> std::unique_ptr<Method> {
                        auto s = CrmtSettings::from_config(c);
                        s.step2 = false;
                        return std::make_unique<Crmt>(s);
                      }});
CRMT_REGISTER_METHOD({"crmt_step2", "ablation: CRMT step 2 only (rho 0)",
                      [](const Config& c) -> std::unique_ptr<Method> {
                        auto s = CrmtSettings::from_config(c);
                        s.rho = 0;
                        return std::make_unique<Crmt>(s);
                      }});

namespace {

// Index of the config value at `key` in `choices`; a value outside them is an error naming the key.
size_t parse_choice(const Config& config, const std::string& key, const std::vector<std::string>& choices) {
  const auto value = config.str(key);
  for (size_t i = 0; i < choices.size(); ++i)
    if (value == choices[i]) return i;
  fail("{} must be {}, got '{}'", key, fmt::join(choices, " or "), value);
}

}  // namespace

CrmtSettings CrmtSettings::from_config(const Config& config) {
  CrmtSettings s;
  s.name = config.str("train.method");
  s.rho = config.real("crmt.rho");
  s.l1_floor = config.real("crmt.l1_floor");
  s.step2 = config.boolean("crmt.step2");
  s.step2_epochs = config.integer("crmt.step2_epochs");
  s.step2_lr = config.real("crmt.step2_lr_scale") * config.real("train.lr");
  s.step2_weight_decay = config.real("crmt.step2_weight_decay");
  s.iterations = config.integer("crmt.iterations");
  s.lipschitz_samples = config.integer("crmt.lipschitz_samples");
  s.step2_epochs_official_rule = parse_choice(config, "crmt.step2_epochs_rule", {"fixed", "official"}) == 1;
  s.step2_batch_norm = static_cast<Step2BatchNorm>(parse_choice(config, "crmt.step2_batch_norm", {"frozen", "train"}));
  s.lipschitz_estimator =
      static_cast<Step2Lipschitz>(parse_choice(config, "crmt.lipschitz_estimator", {"unimodal", "official"}));
  s.step2_from = static_cast<Step2From>(parse_choice(config, "crmt.step2_from", {"best", "last"}));
  s.step2_keep = static_cast<Step2Keep>(parse_choice(config, "crmt.step2_keep", {"final", "best_validation"}));
  // Step-2 epochs that compete for best.pt overwrite it; a resumed run must then find its starting
  // point elsewhere than in best.pt: last.pt, which only the main epochs write.
  if (s.step2_keep == Step2Keep::best_validation && s.step2_from != Step2From::last)
    fail("crmt.step2_keep: best_validation needs crmt.step2_from: last (the official pairing)");
  if (s.lipschitz_samples < 0) fail("crmt.lipschitz_samples must be >= 0 (0 = all), got {}", s.lipschitz_samples);
  if (!config.boolean("crmt.step1")) s.rho = 0;
  if (s.rho < 0) fail("crmt.rho must be >= 0, got {}", s.rho);
  if (s.iterations < 1) fail("crmt.iterations must be >= 1, got {}", s.iterations);
  if (s.step2 && !s.step2_epochs_official_rule && s.step2_epochs < 1) fail("crmt.step2_epochs must be >= 1 when crmt.step2 is on");
  return s;
}

OrthogonalHeadImpl& Crmt::head(MultiModalNet& net) const {
  auto* h = dynamic_cast<OrthogonalHeadImpl*>(&net->head());
  if (!h) fail("train.method {} needs model.head orthogonal or orthogonal_official, the model has '{}'", s_.name, net->head().kind());
  return *h;
}

void Crmt::setup(MultiModalNet& net, const MultiModalDataset& train) { head(net); }

StepResult Crmt::loss(MultiModalNet& net, const Batch& batch) {
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = torch::nn::functional::cross_entropy(r.logits, batch.labels);
  if (s_.rho > 0) r.loss = r.loss + s_.rho * margin_regularizer(r.output.unimodal_scores, batch.labels, s_.l1_floor);
  return r;
}

void Crmt::epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) {
  if (!s_.step2 || s_.iterations <= 1) return;
  const int64_t epochs = context.config().integer("train.epochs");
  const int64_t period = std::max<int64_t>(1, epochs / s_.iterations);
  const int64_t round = (epoch + 1) / period;
  if ((epoch + 1) % period == 0 && round < s_.iterations)
    run_step2(net, context, fmt::format("step 2 (iteration {}/{})", round, s_.iterations), final_step2_epochs(epochs));
}

int64_t Crmt::final_step2_epochs(int64_t train_epochs) const {
  // The official loop is range(1, n_epochs // 3).
  return s_.step2_epochs_official_rule ? std::max<int64_t>(0, train_epochs / 3 - 1) : s_.step2_epochs;
}

FinalStage Crmt::finish(MultiModalNet& net, TrainingContext& context) {
  if (!s_.step2) return FinalStage::none;
  const int64_t epochs = final_step2_epochs(context.config().integer("train.epochs"));
  if (epochs == 0) {
    context.log({{"stage", "step2"}, {"skipped", "crmt.step2_epochs_rule official: no step 2 below 6 epochs"}});
    return FinalStage::none;
  }
  if (s_.step2_from == Step2From::last) context.load_last_weights(net);
  const bool compete = s_.step2_keep == Step2Keep::best_validation;
  run_step2(net, context, "step 2", epochs, compete);
  return compete ? FinalStage::selected_by_validation : FinalStage::replaces_best;
}

void Crmt::run_step2(MultiModalNet& net, TrainingContext& context, const std::string& label, int64_t epochs,
                     bool compete) {
  auto& h = head(net);
  const auto& train = context.data().train;
  at::Tensor tau;  // [M, K], where the step-2 loss runs
  if (s_.lipschitz_estimator == Step2Lipschitz::official) {
    tau = official_lipschitz_table(net, train, s_.lipschitz_samples);
  } else {
    auto lipschitz = estimate_lipschitz(net, train, "empirical", s_.lipschitz_samples);
    tau = lipschitz.tau;
  }
  tau = tau.to(h.bias().device(), torch::kFloat);
  std::vector<double> tau_mean;
  for (int64_t m = 0; m < tau.size(0); ++m) tau_mean.push_back(tau[m].mean().item<double>());
  context.log({{"stage", "lipschitz"},
               {"estimator", s_.lipschitz_estimator == Step2Lipschitz::official ? "official" : "unimodal"},
               {"samples", s_.lipschitz_samples == 0 ? train.size() : std::min(train.size(), s_.lipschitz_samples)},
               {"tau_mean_per_modality", tau_mean}});
  torch::optim::SGD optimizer(h.class_weight_parameters(),
                              torch::optim::SGDOptions(s_.step2_lr).momentum(s_.step2_momentum).weight_decay(s_.step2_weight_decay));
  // Encoders and W~ are fixed: their outputs are computed without a graph. In training mode
  // (step2_batch_norm: train) the batch-norm layers normalize with batch statistics and keep
  // updating their running statistics, as in the official code.
  TrainingContext::LossFn loss = [&](const Batch& batch) {
    ModelOutput out;
    {
      torch::NoGradGuard no_grad;
      out = net->forward(batch);
    }
    auto bias = h.bias().detach();
    auto logits = bias.unsqueeze(0).expand({batch.size(), -1}).clone();
    for (size_t m = 0; m < out.unimodal_scores.size(); ++m) logits = logits + out.unimodal_scores[m] * h.class_weights(m);
    auto j = runner_up(logits, batch.labels);
    auto bound = orthogonal_certified_bound(out.unimodal_scores, h.class_weight_parameters(), bias, tau, batch.labels, j);
    StepResult r;
    r.loss = -bound.mean();
    r.logits = logits;
    r.labels = batch.labels;
    r.output = out;
    return r;
  };
  const uint64_t seed = static_cast<uint64_t>(context.config().integer("seed"));
  const bool train_mode = s_.step2_batch_norm == Step2BatchNorm::train;
  for (int64_t e = 0; e < epochs; ++e) {
    const auto epoch_label = fmt::format("{} {}/{}", label, e + 1, epochs);
    auto stats = context.run_stage(net, optimizer, loss, seed * 7919 + 100000 + e, epoch_label, train_mode);
    context.log({{"stage", "step2"}, {"epoch", e + 1}, {"mean_bound", -stats.loss}, {"train_accuracy", stats.accuracy}});
    if (compete) (void)context.keep_if_best(net, epoch_label);
  }
}

}  // namespace crmt
