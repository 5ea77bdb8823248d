#include "crmt/certify/crown/crown.h"

#include <torch/torch.h>

#include <limits>

#include "crmt/core/error.h"

namespace crmt {

namespace {

using Kind = BoundLayer::Kind;

at::Tensor rows_dot(const at::Tensor& a, const at::Tensor& x) { return (a.flatten(1) * x.reshape({1, -1})).sum(1); }

// A max pool's windows as columns: bounds [C, H, W] -> [C, k*k, L], padded with -inf.
at::Tensor windows(const at::Tensor& v, const BoundLayer& pool) {
  auto padded = pool.padding > 0 ? at::constant_pad_nd(v, {pool.padding, pool.padding, pool.padding, pool.padding},
                                                        -std::numeric_limits<double>::infinity())
                                 : v;
  auto cols = at::im2col(padded.unsqueeze(0), {pool.kernel, pool.kernel}, {1, 1}, {0, 0}, {pool.stride, pool.stride});
  return cols.view({v.size(0), pool.kernel * pool.kernel, -1});
}

}  // namespace

at::Tensor LinearBound::concretize(const at::Tensor& x0, double r) const {
  return rows_dot(a, x0) + d - r * a.flatten(1).norm(2, {1});
}

CrownBounder::CrownBounder(std::vector<BoundLayer> chain, int64_t chunk, bool refine)
    : chain_(std::move(chain)), chunk_(chunk), refine_(refine) {
  if (chain_.empty()) fail("bound propagation: the encoder has no layer to bound");
  while (first_nonlinear_ < chain_.size() && chain_[first_nonlinear_].kind == Kind::Affine) ++first_nonlinear_;
  if (first_nonlinear_ == 0 || first_nonlinear_ == chain_.size()) return;
  torch::NoGradGuard no_grad;
  const auto& shape = chain_[first_nonlinear_ - 1].out_shape;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  first_row_norms_ = torch::empty({n}, torch::kDouble);
  for (int64_t begin = 0; begin < n; begin += chunk_) {
    const int64_t s = std::min(chunk_, n - begin);
    auto spec = torch::zeros({s, n}, torch::kDouble);
    spec.narrow(1, begin, s).fill_diagonal_(1.0);
    first_row_norms_.narrow(0, begin, s).copy_(backward(spec.view(batch_of(s, shape)), first_nonlinear_).a.flatten(1).norm(2, {1}));
  }
  first_row_norms_ = first_row_norms_.view(shape);
}

LinearBound CrownBounder::backward(const at::Tensor& spec, size_t end) const {
  auto a = spec;
  auto d = torch::zeros({spec.size(0)}, spec.options());
  for (size_t i = end; i-- > 0;) {
    const auto& layer = chain_[i];
    if (layer.kind == Kind::Affine) {
      d += rows_dot(a, layer.offset);
      a = layer.transpose(a);
      continue;
    }
    const auto& [l, u] = input_bounds_[i];
    const auto pos = a.clamp_min(0), neg = a.clamp_max(0);
    if (layer.kind == Kind::Relu) {
      // Upper side of the triangle for negative coefficients, adaptive slope for positive ones.
      const auto unstable = (l < 0) & (u > 0);
      const auto upper_slope = at::where(u <= 0, at::zeros_like(u), at::where(l >= 0, at::ones_like(u), u / (u - l).clamp_min(1e-300)));
      const auto upper_intercept = at::where(unstable, -l * upper_slope, at::zeros_like(u));
      const auto lower_slope = at::where(l >= 0, at::ones_like(u), at::where(unstable & (u > -l), at::ones_like(u), at::zeros_like(u)));
      d += rows_dot(neg, upper_intercept);
      a = pos * lower_slope + neg * upper_slope;
      continue;
    }
    // MaxPool2d.
    const auto lw = windows(l, layer), uw = windows(u, layer);         // [C, k*k, L]
    const auto [lmax, best] = lw.max(1);                                 // [C, L]
    const auto others = uw.scatter(1, best.unsqueeze(1), -std::numeric_limits<double>::infinity()).amax(1);
    // Above: x_best + gap with gap = max(0, others' largest upper bound - the best's lower bound)
    // (exact when the gap is 0), or the constant largest upper bound when that is the smaller slack.
    const auto gap = (others - lmax).clamp_min(0);
    const auto umax = uw.amax(1);
    const auto linear = (gap <= (umax - lmax) / 2).to(a.scalar_type());
    const int64_t S = a.size(0), C = l.size(0), kk = layer.kernel * layer.kernel;
    const auto pos_c = pos.reshape({S, C, -1}), neg_c = neg.reshape({S, C, -1});
    d += (neg_c * (linear * gap + (1 - linear) * umax).unsqueeze(0)).sum({1, 2});
    const auto routed = pos_c + neg_c * linear.unsqueeze(0);              // onto the best input
    auto cols = torch::zeros({S, C, kk, routed.size(2)}, a.options());
    cols.scatter_(2, best.unsqueeze(0).unsqueeze(2).expand({S, C, 1, routed.size(2)}), routed.unsqueeze(2));
    const int64_t H = layer.in_shape[1] + 2 * layer.padding, W = layer.in_shape[2] + 2 * layer.padding;
    auto folded = at::col2im(cols.view({S, C * kk, -1}), {H, W}, {layer.kernel, layer.kernel}, {1, 1}, {0, 0},
                             {layer.stride, layer.stride});
    if (layer.padding > 0)
      folded = folded.narrow(2, layer.padding, layer.in_shape[1]).narrow(3, layer.padding, layer.in_shape[2]);
    a = folded.contiguous();
  }
  return {a, d};
}

void CrownBounder::refine(size_t end, at::Tensor& lo, at::Tensor& hi, const at::Tensor& which) {
  const auto index = which.flatten().nonzero().flatten();
  const int64_t n = index.numel();
  refined_ += n;
  auto lo_flat = lo.view(-1), hi_flat = hi.view(-1);
  const auto& shape = chain_[end - 1].out_shape;
  for (int64_t begin = 0; begin < n; begin += chunk_) {
    const auto rows = index.narrow(0, begin, std::min(chunk_, n - begin));
    const int64_t s = rows.numel();
    // Rows +e_i (lower bounds) and -e_i (minus upper bounds), in one pass.
    auto spec = torch::zeros({2 * s, lo.numel()}, lo.options());
    const auto ar = torch::arange(s, torch::kLong);
    spec.index_put_({ar, rows}, 1.0);
    spec.index_put_({ar + s, rows}, -1.0);
    const auto bound = backward(spec.view(batch_of(2 * s, shape)), end).concretize(x0_, radius_);
    lo_flat.index_put_({rows}, at::maximum(lo_flat.index({rows}), bound.narrow(0, 0, s)));
    hi_flat.index_put_({rows}, at::minimum(hi_flat.index({rows}), -bound.narrow(0, s, s)));
  }
}

void CrownBounder::relax(const at::Tensor& x0, double radius) {
  torch::NoGradGuard no_grad;
  x0_ = x0.to(torch::kDouble).reshape(input_shape());
  radius_ = radius;
  refined_ = 0;
  input_bounds_.assign(chain_.size(), {});
  // Interval bounds of the current layer's input, starting from the box around the l2 ball.
  auto lo = x0_ - radius, hi = x0_ + radius;
  for (size_t i = 0; i < chain_.size(); ++i) {
    const auto& layer = chain_[i];
    if (layer.kind == Kind::Affine) {
      const auto mid = layer.apply(((lo + hi) / 2).unsqueeze(0)).squeeze(0);
      const auto rad = layer.apply_abs(((hi - lo) / 2).unsqueeze(0)).squeeze(0);
      lo = mid - rad, hi = mid + rad;
      continue;
    }
    // After an affine layer, CROWN tightens what intervals leave loose: for a ReLU only its
    // unstable neurons matter, for a max pool every input does.
    if (i == first_nonlinear_ && i > 0) {
      // Exact: the affine map's value at x0 +- radius times its rows' norms.
      auto center = x0_.unsqueeze(0);
      for (size_t k = 0; k < i; ++k) center = chain_[k].apply(center);
      center = center.squeeze(0);
      lo = at::maximum(lo, center - radius * first_row_norms_);
      hi = at::minimum(hi, center + radius * first_row_norms_);
    } else if (refine_ && i > 0 && chain_[i - 1].kind == Kind::Affine) {
      const auto which = layer.kind == Kind::Relu ? (lo < 0) & (hi > 0) : torch::ones_like(lo, torch::kBool);
      refine(i, lo, hi, which);
    }
    input_bounds_[i] = {lo.clone(), hi.clone()};
    if (layer.kind == Kind::Relu) {
      lo = lo.clamp_min(0), hi = hi.clamp_min(0);
    } else {
      lo = at::max_pool2d(lo.unsqueeze(0), layer.kernel, layer.stride, layer.padding).squeeze(0);
      hi = at::max_pool2d(hi.unsqueeze(0), layer.kernel, layer.stride, layer.padding).squeeze(0);
    }
  }
}

LinearBound CrownBounder::lower(const at::Tensor& spec) const {
  if (!x0_.defined()) fail("bound propagation: lower() before relax()");
  torch::NoGradGuard no_grad;
  return backward(spec.to(torch::kDouble), chain_.size());
}

std::pair<at::Tensor, at::Tensor> CrownBounder::output_bounds() const {
  const auto& shape = output_shape();
  int64_t n = 1;
  for (auto s : shape) n *= s;
  const auto eye = torch::eye(n, torch::kDouble);
  const auto spec = torch::cat({eye, -eye}).view(batch_of(2 * n, shape));
  const auto bound = lower(spec).concretize(x0_, radius_);
  return {bound.narrow(0, 0, n).view(shape), (-bound.narrow(0, n, n)).view(shape)};
}

}  // namespace crmt
