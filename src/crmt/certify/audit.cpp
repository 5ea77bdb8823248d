#include "crmt/certify/audit.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "crmt/attacks/perturbation.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

at::Tensor per_sample(const at::Tensor& scale, const at::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return scale.view(shape);
}

// Largest ratio observed / estimated over the entries where the estimate is positive; an observed
// positive value against a zero estimate is an infinite ratio.
double max_ratio(const at::Tensor& observed, const at::Tensor& estimate) {
  auto est = estimate.expand_as(observed);
  auto pos = est > 0;
  double worst = 0;
  if (pos.any().item<bool>()) worst = (observed.masked_select(pos) / est.masked_select(pos)).max().item<double>();
  auto zero_est = (~pos) & (observed > 1e-12);
  if (zero_est.any().item<bool>()) worst = kInf;
  return worst;
}

nlohmann::json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

}  // namespace

AuditResult audit_certificate(MultiModalNet& net, const MultiModalDataset& data, const Certificate& cert,
                              const AuditOptions& options) {
  if (static_cast<int64_t>(cert.samples.size()) != data.size())
    fail("audit: the certificate has {} samples but the data ({}) has {}", cert.samples.size(), data.source,
         data.size());
  if (options.steps < 1) fail("audit: steps must be at least 1, got {}", options.steps);
  const size_t M = net->num_modalities();
  const int64_t K = net->num_classes();
  AuditResult result;
  result.lipschitz_kind = cert.lipschitz.kind;
  result.modalities = cert.modalities;
  result.budget_scale = options.budget_scale;
  result.steps = options.steps;
  result.max_tau_ratio.assign(M, 0.0);
  result.max_pairwise_ratio.assign(M, 0.0);

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
  result.attacked = static_cast<int64_t>(targets.size());

  const bool was_training = net->is_training();
  net->eval();
  const int64_t bs = std::max<int64_t>(1, options.batch_size);
  for (size_t start = 0; start < targets.size(); start += static_cast<size_t>(bs)) {
    const size_t end = std::min(targets.size(), start + static_cast<size_t>(bs));
    std::vector<int64_t> idx(targets.begin() + static_cast<std::ptrdiff_t>(start),
                             targets.begin() + static_cast<std::ptrdiff_t>(end));
    const auto B = static_cast<int64_t>(idx.size());
    auto batch = data.batch(torch::tensor(idx, torch::kLong));
    auto x = net->align(batch);
    std::vector<double> radius_v;
    std::vector<int64_t> pred_v;
    for (auto i : idx) {
      radius_v.push_back(cert.samples[static_cast<size_t>(i)].radius);
      pred_v.push_back(cert.samples[static_cast<size_t>(i)].prediction);
    }
    auto radius = torch::tensor(radius_v, torch::kDouble);
    auto budget = (radius * options.budget_scale).to(x[0].scalar_type());
    auto step = (radius * options.step_fraction).to(x[0].scalar_type());
    auto p = torch::tensor(pred_v, torch::kLong);
    std::vector<torch::Tensor> delta;
    for (const auto& t : x) delta.push_back(torch::zeros_like(t));
    std::vector<bool> flipped(static_cast<size_t>(B), false);
    auto prev = delta;  // the iterate before the current one (for the bisection)

    for (int it = 0; it <= options.steps; ++it) {
      std::vector<torch::Tensor> xa;
      for (size_t m = 0; m < M; ++m) xa.push_back((x[m] + delta[m]).detach().requires_grad_(true));
      torch::Tensor logits;
      {
        torch::AutoGradMode enable(true);
        logits = net->forward(xa).logits;
      }
      {
        auto pred = logits.detach().argmax(1);
        std::vector<int64_t> fresh;
        for (int64_t i = 0; i < B; ++i)
          if (!flipped[static_cast<size_t>(i)] && pred[i].item<int64_t>() != pred_v[static_cast<size_t>(i)])
            fresh.push_back(i);
        if (!fresh.empty()) {
          // The first flipping iterate over-states the needed perturbation by up to one step:
          // bisect on the segment from the previous (unflipped) iterate to it.
          auto sel = torch::tensor(fresh, torch::kLong);
          std::vector<torch::Tensor> lo, hi, xs;
          for (size_t m = 0; m < M; ++m) {
            lo.push_back(prev[m].index_select(0, sel));
            hi.push_back(delta[m].index_select(0, sel));
            xs.push_back(x[m].index_select(0, sel));
          }
          auto ps = p.index_select(0, sel);
          torch::NoGradGuard no_grad;
          for (int b = 0; b < options.bisection_steps; ++b) {
            std::vector<torch::Tensor> mid, xm;
            for (size_t m = 0; m < M; ++m) {
              mid.push_back(0.5 * (lo[m] + hi[m]));
              xm.push_back(xs[m] + mid.back());
            }
            auto moved = net->forward(xm).logits.argmax(1).ne(ps);
            for (size_t m = 0; m < M; ++m) {
              auto mask = per_sample(moved, mid[m]);
              hi[m] = torch::where(mask, mid[m], hi[m]);
              lo[m] = torch::where(mask, lo[m], mid[m]);
            }
          }
          auto norms = joint_norm(hi).to(torch::kDouble);
          for (size_t f = 0; f < fresh.size(); ++f) {
            const auto i = static_cast<size_t>(fresh[f]);
            flipped[i] = true;
            const double ratio = norms[static_cast<int64_t>(f)].item<double>() / radius_v[i];
            result.flip_ratios.push_back(ratio);
            ++result.flipped;
            if (ratio < 1.0) ++result.violations;
          }
        }
      }
      if (options.gradient_check_every > 0 && it % options.gradient_check_every == 0) {
        for (size_t m = 0; m < M; ++m) {
          auto G = unimodal_jacobian_gram(net, m, xa[m].detach());
          auto diag = torch::diagonal(G, 0, 1, 2).clamp_min(0);  // [B, K]
          auto tau = cert.lipschitz.tau[static_cast<int64_t>(m)].to(torch::kDouble).unsqueeze(0);
          result.max_tau_ratio[m] = std::max(result.max_tau_ratio[m], max_ratio(diag.sqrt(), tau));
          auto pair = (diag.unsqueeze(2) + diag.unsqueeze(1) - 2 * G).clamp_min(0).sqrt();  // [B, K, K]
          auto est = cert.lipschitz.pairwise[static_cast<int64_t>(m)].to(torch::kDouble).unsqueeze(0);
          auto off = (1 - torch::eye(K, torch::kDouble)).unsqueeze(0).expand_as(pair);
          result.max_pairwise_ratio[m] = std::max(result.max_pairwise_ratio[m], max_ratio(pair * off, est));
        }
      }
      if (it == options.steps) break;
      // Margin loss: the best other class minus the predicted one; ascend it.
      std::vector<torch::Tensor> grads;
      {
        torch::AutoGradMode enable(true);
        auto mask = torch::one_hot(p, K).to(torch::kBool);
        auto other = logits.masked_fill(mask, -std::numeric_limits<float>::infinity()).amax(1);
        auto own = logits.gather(1, p.unsqueeze(1)).squeeze(1);
        grads = torch::autograd::grad({(other - own).sum()}, xa);
      }
      auto dir = joint_normalize(grads);
      std::vector<torch::Tensor> next;
      for (size_t m = 0; m < M; ++m) next.push_back(delta[m] + per_sample(step, dir[m]) * dir[m]);
      auto norm = joint_norm(next);
      auto scale = torch::where(norm > budget, budget / norm.clamp_min(1e-30), torch::ones_like(norm));
      prev = delta;
      for (size_t m = 0; m < M; ++m) delta[m] = (next[m] * per_sample(scale, next[m])).detach();
    }
  }
  net->train(was_training);
  result.violation_share =
      result.attacked ? static_cast<double>(result.violations) / static_cast<double>(result.attacked) : 0.0;
  result.min_flip_ratio = kInf;
  for (double r : result.flip_ratios) result.min_flip_ratio = std::min(result.min_flip_ratio, r);
  return result;
}

nlohmann::json audit_json(const AuditResult& a) {
  nlohmann::json j;
  j["lipschitz_kind"] = a.lipschitz_kind;
  j["budget_scale"] = a.budget_scale;
  j["steps"] = a.steps;
  j["attacked"] = a.attacked;
  j["skipped_zero_radius"] = a.skipped_zero;
  j["skipped_infinite_radius"] = a.skipped_infinite;
  j["flipped"] = a.flipped;
  j["violations"] = a.violations;
  j["violation_share"] = a.violation_share;
  j["min_flip_ratio"] = number(a.min_flip_ratio);
  auto tau = nlohmann::json::object();
  auto pair = nlohmann::json::object();
  for (size_t m = 0; m < a.modalities.size(); ++m) {
    tau[a.modalities[m]] = number(a.max_tau_ratio[m]);
    pair[a.modalities[m]] = number(a.max_pairwise_ratio[m]);
  }
  j["max_gradient_over_tau"] = tau;
  j["max_pairwise_gradient_over_estimate"] = pair;
  return j;
}

std::string audit_report(const AuditResult& a) {
  std::string out = fmt::format(
      "audit ({} Lipschitz): l2-PGD, {} steps, budget {} x radius, not clamped to the data range\n"
      "  attacked {} samples (skipped {} with radius 0, {} with infinite radius); flipped {}; violations {} "
      "({:.2f}%)\n",
      a.lipschitz_kind, a.steps, format_number(a.budget_scale), a.attacked, a.skipped_zero, a.skipped_infinite,
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
