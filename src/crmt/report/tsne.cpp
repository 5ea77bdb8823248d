#include "crmt/report/tsne.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "crmt/core/error.h"

namespace crmt {

namespace {

// The per-step tensors of a t-SNE of a few hundred points are too small to repay waking other
// threads: on a busy machine two threads made a 200-point map 300 times slower than one. The
// intra-op thread count is lowered while such a map is computed and restored afterwards.
class FewThreads {
 public:
  explicit FewThreads(int64_t n) : saved_(at::get_num_threads()) {
    if (n < 1500 && saved_ > 1) at::set_num_threads(1);
  }
  ~FewThreads() {
    if (at::get_num_threads() != saved_) at::set_num_threads(saved_);
  }

 private:
  int saved_;
};

}  // namespace

at::Tensor squared_distances(const at::Tensor& x) {
  auto a = x.to(torch::kFloat64);
  auto norms = a.pow(2).sum(1);
  auto d = (norms.unsqueeze(1) + norms.unsqueeze(0) - 2 * a.mm(a.t())).clamp_min(0);
  d.fill_diagonal_(0);
  return d;
}

at::Tensor pca(const at::Tensor& x, int64_t k) {
  if (x.dim() != 2) fail("pca: expected a matrix [N, D], got {} dimensions", x.dim());
  auto a = x.to(torch::kFloat64);
  a = a - a.mean(0, true);
  k = std::min({k, a.size(0), a.size(1)});
  // Right singular vectors are the principal axes, in decreasing order of variance.
  auto svd = torch::linalg_svd(a, /*full_matrices=*/false);
  auto vh = std::get<2>(svd);
  return a.mm(vh.slice(0, 0, k).t());
}

at::Tensor row_entropy(const at::Tensor& p) {
  auto q = p.to(torch::kFloat64);
  return -(q * torch::where(q > 0, q.log(), torch::zeros_like(q))).sum(1);
}

at::Tensor conditional_affinities(const at::Tensor& sq_distances, double perplexity, double tol, int max_iterations) {
  if (sq_distances.dim() != 2 || sq_distances.size(0) != sq_distances.size(1) || sq_distances.size(0) < 2)
    fail("t-SNE: expected a square distance matrix of at least 2 points");
  if (!(perplexity >= 1)) fail("t-SNE: perplexity must be at least 1, got {}", perplexity);
  const int64_t n = sq_distances.size(0);
  FewThreads threads(n);
  auto d = sq_distances.to(torch::kFloat64);
  auto eye = torch::eye(n, d.options().dtype(torch::kBool));
  // Shift each row by its smallest off-diagonal distance: the affinities are unchanged and the
  // largest exponential is exp(0) = 1, so nothing underflows to an all-zero row.
  auto row_min = d.masked_fill(eye, INFINITY).amin(1, true);
  d = (d - row_min).masked_fill(eye, 0);
  const double target = std::log(perplexity);
  auto beta = torch::ones({n, 1}, d.options());
  auto lo = torch::zeros({n, 1}, d.options());
  auto hi = torch::full({n, 1}, INFINITY, d.options());
  auto affinities = [&](const at::Tensor& b) { return torch::exp(-b * d).masked_fill(eye, 0); };
  for (int it = 0; it < max_iterations; ++it) {
    auto e = affinities(beta);
    auto sum = e.sum(1, true);
    // H = log Z + beta E[d] (nats) for p = exp(-beta d) / Z.
    auto h = sum.log() + beta * (e * d).sum(1, true) / sum;
    auto diff = h - target;
    auto open = diff.abs() > tol;
    if (!open.any().item<bool>()) break;
    auto too_flat = diff > 0;  // entropy too high: sharpen (raise beta)
    lo = torch::where(open & too_flat, beta, lo);
    hi = torch::where(open & ~too_flat, beta, hi);
    auto up = torch::where(torch::isinf(hi), beta * 2, (beta + hi) / 2);
    auto down = (beta + lo) / 2;
    beta = torch::where(open, torch::where(too_flat, up, down), beta).clamp_max(1e150);
  }
  auto e = affinities(beta);
  return e / e.sum(1, true);
}

TsneResult tsne(const at::Tensor& x, const TsneOptions& o) {
  if (x.dim() != 2 || x.size(0) < 2) fail("t-SNE: expected [N, D] points with N >= 2, got shape [{}]", fmt::join(x.sizes().vec(), ","));
  if (o.dims < 1) fail("t-SNE: dims must be positive, got {}", o.dims);
  if (!torch::isfinite(x).all().item<bool>()) fail("t-SNE: the points contain NaN or infinite values");
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  FewThreads threads(n);
  auto points = x.detach().to(torch::kFloat64);
  if (o.pca_dims > 0 && points.size(1) > o.pca_dims) points = pca(points, o.pca_dims);

  TsneResult result;
  result.perplexity = std::max(1.0, std::min(o.perplexity, (n - 1) / 3.0));
  auto p = conditional_affinities(squared_distances(points), result.perplexity);
  p = ((p + p.t()) / (2.0 * n)).clamp_min(1e-12);

  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  // Drawn on the host: the same seed gives the same start on any device.
  auto y = (at::randn({n, o.dims}, gen, torch::kFloat64) * 1e-2).to(points.device());
  auto update = torch::zeros_like(y);
  auto gains = torch::ones_like(y);
  auto q_of = [&](const at::Tensor& map, at::Tensor* kernel) {
    auto num = 1.0 / (1.0 + squared_distances(map));
    num.fill_diagonal_(0);
    *kernel = num;
    return (num / num.sum()).clamp_min(1e-12);
  };
  for (int64_t it = 0; it < o.iterations; ++it) {
    const double exaggeration = it < o.exaggeration_iterations ? o.early_exaggeration : 1.0;
    const double momentum = it < o.momentum_switch ? o.momentum : o.final_momentum;
    at::Tensor num;
    auto q = q_of(y, &num);
    auto pq = (exaggeration * p - q) * num;
    auto grad = 4.0 * (pq.sum(1, true) * y - pq.mm(y));
    // Adaptive gains: grow where the descent direction agrees with the last step, shrink where it flips.
    auto same_sign = (grad > 0) == (update > 0);
    gains = torch::where(same_sign, gains * 0.8, gains + 0.2).clamp_min(0.01);
    update = momentum * update - o.learning_rate * gains * grad;
    y = y + update;
    y = y - y.mean(0, true);
  }
  at::Tensor num;
  auto q = q_of(y, &num);
  result.kl = (p * (p / q).log()).sum().item<double>();
  result.embedding = y.cpu();
  return result;
}

}  // namespace crmt
