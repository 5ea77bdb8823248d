#include "crmt/certify/crown/crown_certificate.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/core/progress.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {

constexpr double kNoUpperBound = std::numeric_limits<double>::infinity();

}  // namespace

CrownCertifier::CrownCertifier(MultiModalNet& net, CrownOptions options, at::Tensor lipschitz_eta)
    : net_(net), options_(options), eta_(std::move(lipschitz_eta)) {
  if (options_.intermediate != "crown" && options_.intermediate != "interval")
    fail("bound propagation: unknown intermediate bounds '{}' (crown or interval)", options_.intermediate);
  net->require_late_fusion("a certified radius by bound propagation");
  if (net->embedding_filter())
    fail("bound propagation: the model has an embedding filter between its encoders and head, which it cannot "
         "bound; use --bound lipschitz-guaranteed");
  torch::NoGradGuard no_grad;
  for (size_t m = 0; m < net->num_modalities(); ++m) {
    const auto& spec = net->specs()[m];
    try {
      bounders_.emplace_back(bound_graph(net->encoder(m), spec.shape), options_.chunk, options_.intermediate == "crown");
    } catch (const Error& e) {
      fail("modality '{}': {}", spec.name, e.what());
    }
    weights_.push_back(net->head().modality_weight(m).detach().to(torch::kDouble).cpu());
  }
  bias_ = net->head().bias().detach().to(torch::kDouble).cpu();
  if (eta_.defined()) eta_ = eta_.to(torch::kDouble).cpu();
}

struct CrownCertifier::Sample {
  std::vector<at::Tensor> x0, specs;  // specs[m]: rows C(m)[p] - C(m)[j], j != p
  std::vector<at::Tensor> exact;      // [rows] per modality: its clean contribution to each margin
  at::Tensor bias_margin;             // [rows]: b_p - b_j
  at::Tensor margin;                  // [rows]: the clean margins h_p - h_j
  std::vector<at::Tensor> eta_rows;   // [rows] per modality: eta[m][p][j] (when given)
};

double CrownCertifier::bound_at(const Sample& s, int modality, double R, int64_t* nearest) {
  const size_t M = bounders_.size();
  auto total = s.bias_margin.clone(), squares = torch::zeros_like(s.bias_margin);
  for (size_t m = 0; m < M; ++m) {
    if (modality >= 0 && static_cast<int>(m) != modality) {
      total += s.exact[m];  // held at its clean value
      continue;
    }
    bounders_[m].relax(s.x0[m], R);
    const auto bound = bounders_[m].lower(s.specs[m]);
    total += bound.concretize(s.x0[m], 0.0);
    squares += bound.a.flatten(1).square().sum(1);
  }
  const auto norm = squares.sqrt();
  at::Tensor eta_norm;
  if (eta_.defined()) {
    eta_norm = torch::zeros_like(s.margin);
    for (size_t m = 0; m < M; ++m)
      if (modality < 0 || static_cast<int>(m) == modality) eta_norm += s.eta_rows[m].square();
    eta_norm = eta_norm.sqrt();
  }
  double r = kNoUpperBound;
  for (int64_t j = 0; j < total.size(0); ++j) {
    double rj = bound_ratio(total[j].item<double>(), norm[j].item<double>());
    // Each pair's sound radius is the better of CROWN's (valid up to R) and the global Lipschitz one
    // (valid everywhere); the caller caps the minimum with R.
    if (eta_norm.defined()) rj = std::max(rj, bound_ratio(s.margin[j].item<double>(), eta_norm[j].item<double>()));
    if (rj < r) {
      r = rj;
      if (nearest) *nearest = j;
    }
  }
  return r;
}

double CrownCertifier::search(const Sample& s, int modality, double start, int64_t* nearest, int* evaluations) {
  // rho(R), the radius the relaxations on the ball of radius R support, shrinks as R grows (looser
  // relaxations); every evaluation certifies min(R, rho(R)), best at the fixed point rho(R) = R.
  // Jump to rho while certified (exact at once for linear encoders), otherwise try the geometric
  // mean of R and rho inside the bracket (best, hi).
  double best = 0, hi = kNoUpperBound, R = start;
  for (int k = 0; k < options_.max_evaluations; ++k) {
    ++*evaluations;
    int64_t limiting = 0;
    const double rho = bound_at(s, modality, R, &limiting);
    if (std::min(R, rho) > best || k == 0) {
      best = std::max(best, std::min(R, rho));
      if (nearest) *nearest = limiting;
    }
    double next;
    if (rho >= R) {
      next = std::isfinite(rho) ? rho : 4 * R;
    } else {
      hi = std::min(hi, R);
      next = rho > 0 ? std::sqrt(R * rho) : R / 4;
    }
    if (std::isfinite(hi) && (next >= hi || next <= best)) next = best > 0 ? std::sqrt(best * hi) : hi / 4;
    if ((std::isfinite(hi) && hi - best <= options_.tolerance * hi) || std::abs(next - R) <= 1e-9 * R) break;
    R = next;
  }
  return best;
}

CrownRadius CrownCertifier::radius(const std::vector<at::Tensor>& x0, int64_t p) {
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net_);
  const size_t M = bounders_.size();
  if (x0.size() != M) fail("bound propagation: {} inputs for {} modalities", x0.size(), M);
  const int64_t K = bias_.size(0);
  std::vector<int64_t> others;
  for (int64_t j = 0; j < K; ++j)
    if (j != p) others.push_back(j);
  const auto rows = torch::tensor(others, torch::kLong);
  Sample s;
  s.bias_margin = bias_[p] - bias_.index({rows});
  s.margin = s.bias_margin.clone();
  for (size_t m = 0; m < M; ++m) {
    s.x0.push_back(x0[m].detach().to(torch::kDouble).cpu().reshape(bounders_[m].input_shape()));
    s.specs.push_back(weights_[m][p].unsqueeze(0) - weights_[m].index({rows}));
    const auto phi = net_->encode(m, x0[m].unsqueeze(0)).detach().to(torch::kDouble).cpu().squeeze(0);
    s.exact.push_back(s.specs[m].matmul(phi));
    s.margin += s.exact[m];
    if (eta_.defined()) s.eta_rows.push_back(eta_[static_cast<int64_t>(m)][p].index({rows}));
  }
  // The global Lipschitz radius is certified already: the search starts there.
  auto lipschitz_radius = [&](int modality) {
    if (!eta_.defined()) return 0.0;
    double r = kNoUpperBound;
    for (int64_t j = 0; j < s.margin.size(0); ++j) {
      double squares = 0;
      for (size_t m = 0; m < M; ++m)
        if (modality < 0 || static_cast<int>(m) == modality) squares += std::pow(s.eta_rows[m][j].item<double>(), 2);
      r = std::min(r, bound_ratio(s.margin[j].item<double>(), std::sqrt(squares)));
    }
    return std::isfinite(r) ? r : 0.0;
  };
  CrownRadius out;
  int64_t nearest = 0;
  out.joint = search(s, -1, std::max(options_.initial_radius, lipschitz_radius(-1)), &nearest, &out.evaluations);
  out.nearest_class = others[static_cast<size_t>(nearest)];
  // A budget on one modality is a subset of the joint one: its radius starts from the joint radius.
  for (size_t m = 0; m < M; ++m) {
    const double start = std::max({out.joint, options_.initial_radius, lipschitz_radius(static_cast<int>(m))});
    out.unimodal.push_back(search(s, static_cast<int>(m), start, nullptr, &out.evaluations));
  }
  return out;
}

Certificate certify_crown(MultiModalNet& net, const MultiModalDataset& data, const std::vector<double>& radii,
                          const CrownOptions& options) {
  const Fp32Scope fp32;
  // eta and the vulnerability table from the guaranteed constants; the radii are replaced below.
  auto cert = certify(net, data, guaranteed_lipschitz(net), radii);
  CrownCertifier certifier(net, options, cert.eta);
  cert.bound = "crown";
  EvalModeGuard eval(*net);
  torch::NoGradGuard no_grad;
  ProgressBar progress("bound propagation", static_cast<int64_t>(cert.samples.size()), options.progress);
  for (int64_t i = 0; i < static_cast<int64_t>(cert.samples.size()); ++i) {
    progress.update(i);
    auto& s = cert.samples[static_cast<size_t>(i)];
    const auto batch = data.batch(torch::tensor({i}, torch::kLong));
    auto inputs = net->align(batch);
    for (auto& x : inputs) x = x.squeeze(0);
    const auto r = certifier.radius(inputs, s.prediction);
    s.radius = r.joint;
    s.runner_up_radius = r.joint;
    s.nearest_class = r.nearest_class;
    s.unimodal_radius = r.unimodal;
  }
  progress.finish();
  summarize(cert, radii);
  return cert;
}

}  // namespace crmt
