#include "crmt/certify/audit.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "crmt/attacks/attack.h"
#include "crmt/attacks/gradient_engine.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {

constexpr double kUnboundedRatio = std::numeric_limits<double>::infinity();

// Largest ratio observed / estimated over the entries where the estimate is positive; an observed
// positive value against a zero estimate is an infinite ratio.
double max_ratio(const at::Tensor& observed, const at::Tensor& estimate) {
  auto est = estimate.expand_as(observed);
  auto pos = est > 0;
  double worst = 0;
  if (pos.any().item<bool>()) worst = (observed.masked_select(pos) / est.masked_select(pos)).max().item<double>();
  auto zero_est = (~pos) & (observed > 1e-12);
  if (zero_est.any().item<bool>()) worst = kUnboundedRatio;
  return worst;
}


// The margin loss max_{j != p} h_j - h_p against fixed classes p: ascending it moves towards a flip.
AttackObjective margin_objective(const at::Tensor& predicted, int64_t classes) {
  return [predicted, classes](const ModelOutput& out) {
    auto mask = torch::one_hot(predicted, classes).to(torch::kBool);
    auto other = out.logits.masked_fill(mask, -std::numeric_limits<float>::infinity()).amax(1);
    auto own = out.logits.gather(1, predicted.unsqueeze(1)).squeeze(1);
    return (other - own).sum();
  };
}

// A random point of each sample's joint ball of radius `radius` [N] over the attacked modalities:
// a Gaussian direction scaled to a uniform fraction of the radius.
std::vector<at::Tensor> random_start(const Batch& batch, const std::vector<size_t>& targets, const at::Tensor& radius,
                                     int seed) {
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
  const auto& first = batch.inputs[targets.front()];
  std::vector<at::Tensor> dirs;
  auto squares = torch::zeros({first.size(0)}, torch::kDouble);
  for (auto m : targets) {
    const auto& x = batch.inputs[m];
    dirs.push_back(at::randn(x.sizes(), gen, torch::kDouble));
    squares += dirs.back().flatten(1).square().sum(1);
  }
  const auto scale = at::rand({first.size(0)}, gen, torch::kDouble) * radius.to(torch::kCPU, torch::kDouble) /
                     squares.sqrt().clamp_min(1e-300);
  for (size_t i = 0; i < dirs.size(); ++i) {
    const auto& x = batch.inputs[targets[i]];
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = -1;
    dirs[i] = (dirs[i] * scale.view(shape)).to(x.device(), x.scalar_type());
  }
  return dirs;
}

// The first flipping iterate over-states the needed perturbation by up to one step: bisect on the
// segment from the previous (unflipped) perturbation `lo` to it (`hi`). Returns the joint norm of the
// smallest flipping perturbation found, per sample.
at::Tensor bisect_flip(MultiModalNet& net, Batch clean, const std::vector<size_t>& targets, std::vector<at::Tensor> lo,
                       std::vector<at::Tensor> hi, const at::Tensor& predicted, int steps) {
  torch::NoGradGuard no_grad;
  for (int b = 0; b < steps; ++b) {
    std::vector<at::Tensor> mid;
    Batch moved_batch = clean;
    for (size_t i = 0; i < targets.size(); ++i) {
      mid.push_back(0.5 * (lo[i] + hi[i]));
      moved_batch.inputs[targets[i]] = clean.inputs[targets[i]] + mid.back();
    }
    auto moved = net->forward(moved_batch).logits.argmax(1).ne(predicted);
    for (size_t i = 0; i < targets.size(); ++i) {
      auto mask = per_sample(moved, mid[i]);
      hi[i] = torch::where(mask, mid[i], hi[i]);
      lo[i] = torch::where(mask, lo[i], mid[i]);
    }
  }
  return joint_norm(hi).to(torch::kDouble);
}

// Samples to attack: finite positive radii, at most max_samples of them.
std::vector<int64_t> audit_targets(const Certificate& cert, const AuditOptions& options, AuditResult& result) {
  std::vector<int64_t> targets;
  for (size_t i = 0; i < cert.samples.size(); ++i) {
    const double r = cert.samples[i].radius;
    if (r <= 0) {
      ++result.skipped_zero;
    } else if (std::isinf(r)) {
      ++result.skipped_infinite;
    } else if (options.max_samples <= 0 || static_cast<int64_t>(targets.size()) < options.max_samples) {
      targets.push_back(static_cast<int64_t>(i));
    }
  }
  return targets;
}

// Compares every s(m)'s Jacobian at the iterate with the Lipschitz estimate (largest ratios kept).
void check_gradients(MultiModalNet& net, const Batch& iterate, const Certificate& cert, AuditResult& result) {
  const auto x = net->align(iterate);
  const int64_t K = net->num_classes();
  for (size_t m = 0; m < x.size(); ++m) {
    auto G = unimodal_jacobian_gram(net, m, x[m].detach());
    auto diag = torch::diagonal(G, 0, 1, 2).clamp_min(0);  // [B, K]
    auto tau = cert.lipschitz.tau[static_cast<int64_t>(m)].to(G.options()).unsqueeze(0);
    result.max_tau_ratio[m] = std::max(result.max_tau_ratio[m], max_ratio(diag.sqrt(), tau));
    auto pair = (diag.unsqueeze(2) + diag.unsqueeze(1) - 2 * G).clamp_min(0).sqrt();  // [B, K, K]
    auto est = cert.lipschitz.pairwise[static_cast<int64_t>(m)].to(G.options()).unsqueeze(0);
    auto off = (1 - torch::eye(K, G.options())).unsqueeze(0).expand_as(pair);
    result.max_pairwise_ratio[m] = std::max(result.max_pairwise_ratio[m], max_ratio(pair * off, est));
  }
}

}  // namespace

AuditResult audit_certificate(MultiModalNet& net, const MultiModalDataset& data, const Certificate& cert,
                              const AuditOptions& options) {
  const Fp32Scope fp32;
  if (static_cast<int64_t>(cert.samples.size()) != data.size())
    fail("audit: the certificate has {} samples but the data ({}) has {}", cert.samples.size(), data.source,
         data.size());
  if (options.steps < 1) fail("audit: steps must be at least 1, got {}", options.steps);
  if (options.restarts < 1) fail("audit: restarts must be at least 1, got {}", options.restarts);
  const size_t M = net->num_modalities();
  AuditResult result;
  result.lipschitz_kind = cert.lipschitz.kind;
  result.modalities = cert.modalities;
  result.budget_scale = options.budget_scale;
  result.steps = options.steps;
  result.restarts = options.restarts;
  result.max_tau_ratio.assign(M, 0.0);
  result.max_pairwise_ratio.assign(M, 0.0);
  const auto targets = audit_targets(cert, options, result);
  result.attacked = static_cast<int64_t>(targets.size());

  EvalModeGuard eval(*net);
  const int64_t bs = std::max<int64_t>(1, options.batch_size);
  for (size_t start = 0; start < targets.size(); start += static_cast<size_t>(bs)) {
    const size_t end = std::min(targets.size(), start + static_cast<size_t>(bs));
    std::vector<int64_t> idx(targets.begin() + static_cast<std::ptrdiff_t>(start),
                             targets.begin() + static_cast<std::ptrdiff_t>(end));
    auto batch = data.batch(torch::tensor(idx, torch::kLong));
    const auto modalities = resolve_targets(batch, {});
    std::vector<double> radius_v;
    std::vector<int64_t> pred_v;
    for (auto i : idx) {
      radius_v.push_back(cert.samples[static_cast<size_t>(i)].radius);
      pred_v.push_back(cert.samples[static_cast<size_t>(i)].prediction);
    }
    const auto device = batch.labels.device();
    auto radius = torch::tensor(radius_v, torch::kDouble).to(device);
    const auto dtype = batch.inputs[0].scalar_type();
    auto predicted = torch::tensor(pred_v, torch::kLong).to(device);
    GradientAttackSettings attack;
    attack.steps = options.steps;
    attack.step_size = (radius * options.step_fraction).to(dtype);
    attack.radius = (radius * options.budget_scale).to(dtype);
    attack.clamp_to_range = false;  // the certificate covers all of R^d

    std::vector<bool> flipped(idx.size(), false);
    std::vector<at::Tensor> previous;  // the iterate before the current one (for the bisection)
    IterateObserver tally = [&](int iteration, const Batch& iterate, const std::vector<at::Tensor>& deltas,
                                const ModelOutput& output) {
      if (previous.empty()) previous = deltas;
      auto pred = output.logits.detach().argmax(1).cpu();  // one copy, not one per sample
      auto pred_a = pred.accessor<int64_t, 1>();
      std::vector<int64_t> fresh;
      for (size_t i = 0; i < idx.size(); ++i)
        if (!flipped[i] && pred_a[static_cast<int64_t>(i)] != pred_v[i]) fresh.push_back(static_cast<int64_t>(i));
      if (!fresh.empty()) {
        auto sel = torch::tensor(fresh, torch::kLong).to(device);
        Batch clean = batch;
        clean.labels = batch.labels.index_select(0, sel);
        std::vector<at::Tensor> lo, hi;
        for (size_t i = 0; i < modalities.size(); ++i) {
          clean.inputs[modalities[i]] = batch.inputs[modalities[i]].index_select(0, sel);
          lo.push_back(previous[i].index_select(0, sel));
          hi.push_back(deltas[i].index_select(0, sel));
        }
        auto norms = bisect_flip(net, clean, modalities, lo, hi, predicted.index_select(0, sel), options.bisection_steps).cpu();
        for (size_t f = 0; f < fresh.size(); ++f) {
          const auto i = static_cast<size_t>(fresh[f]);
          flipped[i] = true;
          const double ratio = norms[static_cast<int64_t>(f)].item<double>() / radius_v[i];
          result.flip_ratios.push_back(ratio);
          ++result.flipped;
          if (ratio < 1.0) ++result.violations;
        }
      }
      if (options.gradient_check_every > 0 && iteration % options.gradient_check_every == 0)
        check_gradients(net, iterate, cert, result);
      previous = deltas;
      return at::Tensor();
    };
    for (int restart = 0; restart < options.restarts; ++restart) {
      previous.clear();
      if (restart > 0) attack.start = random_start(batch, modalities, radius * options.budget_scale, restart);
      gradient_attack(net, batch, modalities, margin_objective(predicted, net->num_classes()), attack, tally);
    }
  }
  result.violation_share =
      result.attacked ? static_cast<double>(result.violations) / static_cast<double>(result.attacked) : 0.0;
  result.min_flip_ratio = kUnboundedRatio;
  for (double r : result.flip_ratios) result.min_flip_ratio = std::min(result.min_flip_ratio, r);
  return result;
}

nlohmann::json audit_json(const AuditResult& a) {
  nlohmann::json j;
  j["lipschitz_kind"] = a.lipschitz_kind;
  j["budget_scale"] = a.budget_scale;
  j["steps"] = a.steps;
  j["restarts"] = a.restarts;
  j["attacked"] = a.attacked;
  j["skipped_zero_radius"] = a.skipped_zero;
  j["skipped_infinite_radius"] = a.skipped_infinite;
  j["flipped"] = a.flipped;
  j["violations"] = a.violations;
  j["violation_share"] = a.violation_share;
  j["min_flip_ratio"] = json_number(a.min_flip_ratio);
  auto tau = nlohmann::json::object();
  auto pair = nlohmann::json::object();
  for (size_t m = 0; m < a.modalities.size(); ++m) {
    tau[a.modalities[m]] = json_number(a.max_tau_ratio[m]);
    pair[a.modalities[m]] = json_number(a.max_pairwise_ratio[m]);
  }
  j["max_gradient_over_tau"] = tau;
  j["max_pairwise_gradient_over_estimate"] = pair;
  return j;
}

std::string audit_report(const AuditResult& a) {
  std::string out = fmt::format(
      "audit ({} Lipschitz): l2-PGD, {} steps x {} start(s), budget {} x radius, not clamped to the data range\n"
      "  attacked {} samples (skipped {} with radius 0, {} with infinite radius); flipped {}; violations {} "
      "({:.2f}%)\n",
      a.lipschitz_kind, a.steps, a.restarts, format_number(a.budget_scale), a.attacked, a.skipped_zero, a.skipped_infinite,
      a.flipped, a.violations, 100.0 * a.violation_share);
  if (a.flipped > 0)
    out += fmt::format("  smallest flipping perturbation / certified radius: {}{}\n", format_number(a.min_flip_ratio),
                       a.min_flip_ratio < 1 ? fmt::format(" (radius too large by x{})", format_number(1 / a.min_flip_ratio))
                                            : std::string());
  for (size_t m = 0; m < a.modalities.size(); ++m)
    out += fmt::format("  {}: largest gradient / tau along the attack {}, pairwise {}\n", a.modalities[m],
                       format_number(a.max_tau_ratio[m]), format_number(a.max_pairwise_ratio[m]));
  if (a.violations > 0 && a.lipschitz_kind == "guaranteed")
    out += "  WARNING: a guaranteed certificate was violated; this is a bug\n";
  return out;
}

}  // namespace crmt
