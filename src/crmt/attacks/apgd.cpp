#include "crmt/attacks/apgd.h"

#include <torch/autograd.h>

#include <cmath>

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"

namespace crmt {

namespace {

std::unique_ptr<Attack> make_apgd(const AttackSpec& spec, ApgdLoss loss) {
  ApgdSettings s;
  s.eps = spec.eps;
  s.iterations = spec.steps;
  s.restarts = spec.restarts;
  s.loss = loss;
  s.seed = spec.seed;
  return std::make_unique<ApgdL2>(s);
}

CRMT_REGISTER_ATTACK({"apgd", "eps",
                      "l2 Auto-PGD: `steps` iterations x `restarts` with cross-entropy, then as many with DLR on "
                      "what survived",
                      [](const AttackSpec& s) { return make_apgd(s, ApgdLoss::both); }, true, true});
CRMT_REGISTER_ATTACK({"apgd_ce", "eps", "l2 Auto-PGD on the cross-entropy alone",
                      [](const AttackSpec& s) { return make_apgd(s, ApgdLoss::cross_entropy); }, true, true});
CRMT_REGISTER_ATTACK({"apgd_dlr", "eps", "l2 Auto-PGD on the DLR loss alone",
                      [](const AttackSpec& s) { return make_apgd(s, ApgdLoss::dlr); }, true, true});

using Parts = std::vector<at::Tensor>;

// Rows `mask` of `from` replace those of `into` (mask bool [N]).
void replace_rows(Parts& into, const Parts& from, const at::Tensor& mask) {
  for (size_t i = 0; i < into.size(); ++i) into[i] = torch::where(per_sample(mask, into[i]), from[i], into[i]);
}

// One run of APGD with one loss from a random start, on the samples of `batch` (all attacked).
class ApgdRun {
 public:
  ApgdRun(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets, const ApgdSettings& s,
          bool dlr, at::Generator& gen)
      : net_(net), batch_(batch), targets_(targets), s_(s), dlr_(dlr) {
    for (auto m : targets) x_.push_back(batch.inputs[m]);
    Parts start;
    for (const auto& x : x_) start.push_back(at::normal(0.0, 1.0, x.sizes(), gen, x.options().device(at::kCPU)).to(x.device()));
    // On the sphere of radius eps, then into the valid range.
    auto unit = joint_normalize(start);
    Parts delta;
    for (const auto& u : unit) delta.push_back(s.eps * u);
    adv_ = valid(delta);
  }

  // The best perturbed inputs found: misclassifying ones where found, else those of highest loss.
  // `fooled` [N] says where.
  Parts run(at::Tensor& fooled) {
    const int64_t n = batch_.size();
    auto options = x_[0].options();
    auto step = torch::full({n}, 2 * s_.eps, options);
    evaluate(adv_);
    auto loss_prev = loss_, best_loss = loss_;
    Parts best = adv_, best_grad = grad_, prev = adv_;
    fooled = misclassified_;
    Parts found = adv_;
    const auto checkpoints = apgd_checkpoints(s_.iterations);
    size_t next = 0;
    int last_checkpoint = 0;
    auto rises = torch::zeros({n}, options);
    auto step_at_check = step.clone(), best_at_check = best_loss.clone();
    for (int k = 0; k < s_.iterations; ++k) {
      torch::NoGradGuard no_grad;
      auto direction = joint_normalize(grad_);
      Parts z, moved;
      for (size_t i = 0; i < adv_.size(); ++i) z.push_back(adv_[i] + per_sample(step, adv_[i]) * direction[i]);
      z = valid(minus_x(z));
      if (k == 0) {
        moved = z;
      } else {  // momentum: x + alpha (z - x) + (1 - alpha)(x - x_prev)
        for (size_t i = 0; i < adv_.size(); ++i)
          moved.push_back(adv_[i] + s_.alpha * (z[i] - adv_[i]) + (1 - s_.alpha) * (adv_[i] - prev[i]));
        moved = valid(minus_x(moved));
      }
      prev = adv_;
      adv_ = moved;
      evaluate(adv_);
      auto newly = misclassified_ & ~fooled;
      replace_rows(found, adv_, newly);
      fooled = fooled | misclassified_;
      rises += (loss_ > loss_prev).to(options.dtype());
      loss_prev = loss_;
      auto better = loss_ > best_loss;
      best_loss = torch::where(better, loss_, best_loss);
      replace_rows(best, adv_, better);
      replace_rows(best_grad, grad_, better);
      if (next < checkpoints.size() && k + 1 == checkpoints[next]) {
        const int span = checkpoints[next] - last_checkpoint;
        auto too_few_rises = rises < s_.rho * span;
        auto stalled = step.eq(step_at_check) & best_loss.eq(best_at_check);
        auto halve = too_few_rises | stalled;
        step = torch::where(halve, step / 2, step);
        replace_rows(adv_, best, halve);
        replace_rows(grad_, best_grad, halve);
        replace_rows(prev, best, halve);  // no momentum out of a restart
        rises.zero_();
        step_at_check = step.clone();
        best_at_check = best_loss.clone();
        last_checkpoint = checkpoints[next++];
      }
    }
    replace_rows(best, found, fooled);
    return best;
  }

 private:
  Parts minus_x(const Parts& inputs) const {
    Parts d;
    for (size_t i = 0; i < inputs.size(); ++i) d.push_back(inputs[i] - x_[i]);
    return d;
  }
  // x + delta projected onto the joint l2 ball and clamped to each modality's valid range (which
  // keeps it in the ball: clamping moves every entry towards x, itself in range).
  Parts valid(const Parts& delta) const {
    auto projected = project_joint_ball(delta, s_.eps);
    Parts out;
    for (size_t i = 0; i < x_.size(); ++i)
      out.push_back(clamp_to_range(x_[i] + projected[i], net_->spec(batch_.modalities[targets_[i]])).detach());
    return out;
  }
  // Loss, gradient and success at `inputs`.
  void evaluate(const Parts& inputs) {
    torch::AutoGradMode enable(true);
    Batch work = batch_;
    Parts leaves;
    for (size_t i = 0; i < targets_.size(); ++i) {
      work.inputs[targets_[i]] = inputs[i].detach().clone().requires_grad_(true);
      leaves.push_back(work.inputs[targets_[i]]);
    }
    auto logits = net_->forward(work).logits;
    auto per_sample_loss = dlr_ ? dlr_loss(logits, batch_.labels)
                                : torch::nn::functional::cross_entropy(
                                      logits, batch_.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    grad_ = torch::autograd::grad({per_sample_loss.sum()}, leaves);
    loss_ = per_sample_loss.detach();
    misclassified_ = logits.detach().argmax(1).ne(batch_.labels);
  }

  MultiModalNet& net_;
  const Batch& batch_;
  const std::vector<size_t>& targets_;
  const ApgdSettings& s_;
  bool dlr_;
  Parts x_, adv_, grad_;
  at::Tensor loss_, misclassified_;
};

}  // namespace

std::vector<int> apgd_checkpoints(int iterations) {
  // In whole iterations, as the reference implementation counts them: the first check after
  // 22% of the budget, then gaps shrinking by 3% down to 6%.
  const int first = std::max(1, static_cast<int>(0.22 * iterations));
  const int shrink = std::max(1, static_cast<int>(0.03 * iterations));
  const int smallest = std::max(1, static_cast<int>(0.06 * iterations));
  std::vector<int> out;
  for (int at = first, gap = first; at < iterations;) {
    out.push_back(at);
    gap = std::max(gap - shrink, smallest);
    at += gap;
  }
  return out;
}

at::Tensor dlr_loss(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.size(1) < 3) fail("the DLR loss needs at least 3 classes, the model has {}", logits.size(1));
  auto sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  auto own = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  auto mask = torch::one_hot(labels, logits.size(1)).to(torch::kBool);
  auto other = logits.masked_fill(mask, -std::numeric_limits<double>::infinity()).amax(1);
  // The denominator is >= 0; 1e-12 keeps a tie of the top three finite.
  return -(own - other) / (sorted.select(1, 0) - sorted.select(1, 2) + 1e-12);
}

std::string ApgdL2::name() const {
  switch (s_.loss) {
    case ApgdLoss::cross_entropy: return "apgd_ce";
    case ApgdLoss::dlr: return "apgd_dlr";
    case ApgdLoss::both: break;
  }
  return "apgd";
}

Batch ApgdL2::attack(MultiModalNet& net, const Batch& batch, const std::vector<size_t>& targets) const {
  if (s_.eps < 0) fail("apgd: eps must be >= 0, got {}", s_.eps);
  if (s_.iterations < 1) fail("apgd: steps must be positive, got {}", s_.iterations);
  if (s_.restarts < 1) fail("apgd: restarts must be positive, got {}", s_.restarts);
  if (targets.empty() || s_.eps == 0 || batch.size() == 0) return batch;
  const Fp32Scope fp32;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(s_.seed);
  Batch out = batch;  // the attacked inputs are written row by row: copies, never the caller's tensors
  for (auto m : targets) out.inputs[m] = batch.inputs[m].clone();
  at::Tensor robust;  // samples not broken yet, on the batch's device
  {
    torch::NoGradGuard no_grad;
    robust = net->forward(batch).logits.argmax(1).eq(batch.labels);
  }
  std::vector<bool> losses;
  if (s_.loss != ApgdLoss::dlr) losses.push_back(false);
  if (s_.loss != ApgdLoss::cross_entropy) losses.push_back(true);
  for (bool dlr : losses) {
    for (int r = 0; r < s_.restarts; ++r) {
      auto idx = robust.nonzero().squeeze(1);
      if (idx.numel() == 0) return out;
      Batch sub = batch;
      for (auto& x : sub.inputs) x = x.index_select(0, idx);
      sub.labels = batch.labels.index_select(0, idx);
      at::Tensor fooled;
      auto found = ApgdRun(net, sub, targets, s_, dlr, gen).run(fooled);
      torch::NoGradGuard no_grad;
      // Every attacked sample takes the run's best point; broken ones keep theirs from then on.
      for (size_t i = 0; i < targets.size(); ++i) out.inputs[targets[i]].index_copy_(0, idx, found[i]);
      robust.index_put_({idx}, robust.index_select(0, idx) & ~fooled);
    }
  }
  return out;
}

}  // namespace crmt
