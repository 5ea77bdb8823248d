#include "crmt/certify/crown/crown.h"

#include <torch/torch.h>

#include <limits>

#include "crmt/core/error.h"

namespace crmt {

namespace {

using NodeKind = BoundLayer::Kind;

at::Tensor rows_dot(const at::Tensor& a, const at::Tensor& x) { return (a.flatten(1) * x.reshape({1, -1})).sum(1); }

// A max pool's windows as columns: bounds [(T,) C, H, W] -> [T*C, k*k, L], padded with -inf.
at::Tensor windows(const at::Tensor& v, const BoundLayer& pool) {
  const auto images = v.reshape({-1, v.size(-2), v.size(-1)});
  auto padded = pool.padding > 0 ? at::constant_pad_nd(images, {pool.padding, pool.padding, pool.padding, pool.padding},
                                                        -std::numeric_limits<double>::infinity())
                                 : images;
  auto cols = at::im2col(padded.unsqueeze(0), {pool.kernel, pool.kernel}, {1, 1}, {0, 0}, {pool.stride, pool.stride});
  return cols.view({images.size(0), pool.kernel * pool.kernel, -1});
}

// Where coefficients on a node's output go: summed into the pending coefficients of its input.
void accumulate(at::Tensor& slot, const at::Tensor& a) { slot = slot.defined() ? slot + a : a; }

}  // namespace

at::Tensor LinearBound::concretize(const at::Tensor& x0, double r) const {
  return rows_dot(a, x0) + d - r * a.flatten(1).norm(2, {1});
}

CrownBounder::CrownBounder(std::vector<BoundLayer> graph, int64_t chunk, bool refine)
    : graph_(std::move(graph)), chunk_(chunk), refine_(refine) {
  if (graph_.empty()) fail("bound propagation: the encoder has no layer to bound");
  for (size_t i = 0; i < graph_.size() && first_nonlinear_ < 0; ++i)
    if (graph_[i].nonlinear()) first_nonlinear_ = static_cast<int64_t>(i);
  if (first_nonlinear_ > 0 && graph_[static_cast<size_t>(first_nonlinear_)].inputs[0] >= 0) compute_first_row_norms();
}

void CrownBounder::compute_first_row_norms() {
  torch::NoGradGuard no_grad;
  const int64_t last = graph_[static_cast<size_t>(first_nonlinear_)].inputs[0];
  const auto& shape = graph_[static_cast<size_t>(last)].out_shape;
  // A chain of affine layers with at most one that is not diagonal: |L|^2 entrywise is the
  // product of the layers' squares, so the squared norms are that product applied to ones.
  bool squares = true;
  int non_diagonal = 0;
  for (int64_t i = 0; i <= last; ++i) {
    const auto& node = graph_[static_cast<size_t>(i)];
    squares = squares && node.kind == NodeKind::Affine && node.apply_square && node.inputs[0] == i - 1;
    non_diagonal += !node.diagonal;
  }
  if (squares && non_diagonal <= 1) {
    auto v = torch::ones(batch_of(1, input_shape()), torch::kDouble);
    for (int64_t i = 0; i <= last; ++i) v = graph_[static_cast<size_t>(i)].apply_square(v);
    first_row_norms_ = v.squeeze(0).sqrt();
    return;
  }
  int64_t n = 1;
  for (auto d : shape) n *= d;
  first_row_norms_ = torch::empty({n}, torch::kDouble);
  for (int64_t begin = 0; begin < n; begin += chunk_) {
    const int64_t s = std::min(chunk_, n - begin);
    auto spec = torch::zeros({s, n}, torch::kDouble);
    spec.narrow(1, begin, s).fill_diagonal_(1.0);
    first_row_norms_.narrow(0, begin, s).copy_(backward(spec.view(batch_of(s, shape)), last).a.flatten(1).norm(2, {1}));
  }
  first_row_norms_ = first_row_norms_.view(shape);
}

LinearBound CrownBounder::backward(const at::Tensor& spec, int64_t node) const {
  std::vector<at::Tensor> pending(static_cast<size_t>(node) + 1);  // coefficients on each node's output
  pending.back() = spec;
  at::Tensor on_input;
  auto d = torch::zeros({spec.size(0)}, spec.options());
  for (int64_t i = node; i >= 0; --i) {
    const auto a = std::move(pending[static_cast<size_t>(i)]);
    if (!a.defined()) continue;
    const auto& layer = graph_[static_cast<size_t>(i)];
    auto target = [&](size_t k) -> at::Tensor& {
      return layer.inputs[k] < 0 ? on_input : pending[static_cast<size_t>(layer.inputs[k])];
    };
    if (layer.kind == NodeKind::Affine) {
      d += rows_dot(a, layer.offset);
      accumulate(target(0), layer.transpose(a));
      continue;
    }
    if (layer.kind == NodeKind::Add) {
      accumulate(target(0), a);
      accumulate(target(1), a);
      continue;
    }
    const auto& [l, u] = input_bounds_[static_cast<size_t>(i)];
    const auto pos = a.clamp_min(0), neg = a.clamp_max(0);
    if (layer.kind == NodeKind::Relu) {
      // Upper side of the triangle for negative coefficients, adaptive slope for positive ones.
      const auto unstable = (l < 0) & (u > 0);
      const auto upper_slope = at::where(u <= 0, at::zeros_like(u), at::where(l >= 0, at::ones_like(u), u / (u - l).clamp_min(1e-300)));
      const auto upper_intercept = at::where(unstable, -l * upper_slope, at::zeros_like(u));
      const auto lower_slope = at::where(l >= 0, at::ones_like(u), at::where(unstable & (u > -l), at::ones_like(u), at::zeros_like(u)));
      d += rows_dot(neg, upper_intercept);
      accumulate(target(0), pos * lower_slope + neg * upper_slope);
      continue;
    }
    // MaxPool2d, on the [T*C] images of its input.
    const auto lw = windows(l, layer), uw = windows(u, layer);         // [C, k*k, L]
    const auto [lmax, best] = lw.max(1);                                 // [C, L]
    const auto others = uw.scatter(1, best.unsqueeze(1), -std::numeric_limits<double>::infinity()).amax(1);
    // Above: x_best + gap with gap = max(0, others' largest upper bound - the best's lower bound)
    // (exact when the gap is 0), or the constant largest upper bound when that is the smaller slack.
    const auto gap = (others - lmax).clamp_min(0);
    const auto umax = uw.amax(1);
    const auto linear = (gap <= (umax - lmax) / 2).to(a.scalar_type());
    const int64_t S = a.size(0), C = lw.size(0), kk = layer.kernel * layer.kernel;
    const auto pos_c = pos.reshape({S, C, -1}), neg_c = neg.reshape({S, C, -1});
    d += (neg_c * (linear * gap + (1 - linear) * umax).unsqueeze(0)).sum({1, 2});
    const auto routed = pos_c + neg_c * linear.unsqueeze(0);              // onto the best input
    auto cols = torch::zeros({S, C, kk, routed.size(2)}, a.options());
    cols.scatter_(2, best.unsqueeze(0).unsqueeze(2).expand({S, C, 1, routed.size(2)}), routed.unsqueeze(2));
    const int64_t h = layer.in_shape[layer.in_shape.size() - 2], w = layer.in_shape.back();
    auto folded = at::col2im(cols.view({S, C * kk, -1}), {h + 2 * layer.padding, w + 2 * layer.padding},
                             {layer.kernel, layer.kernel}, {1, 1}, {0, 0}, {layer.stride, layer.stride});
    if (layer.padding > 0) folded = folded.narrow(2, layer.padding, h).narrow(3, layer.padding, w);
    accumulate(target(0), folded.reshape(batch_of(S, layer.in_shape)));
  }
  if (!on_input.defined()) on_input = torch::zeros(batch_of(spec.size(0), input_shape()), spec.options());
  return {on_input, d};
}

void CrownBounder::refine(int64_t node, at::Tensor& lo, at::Tensor& hi, const at::Tensor& which) {
  const auto index = which.flatten().nonzero().flatten();
  const int64_t n = index.numel();
  refined_ += n;
  auto lo_flat = lo.view(-1), hi_flat = hi.view(-1);
  const auto& shape = graph_[static_cast<size_t>(node)].out_shape;
  for (int64_t begin = 0; begin < n; begin += chunk_) {
    const auto rows = index.narrow(0, begin, std::min(chunk_, n - begin));
    const int64_t s = rows.numel();
    // Rows +e_i (lower bounds) and -e_i (minus upper bounds), in one pass.
    auto spec = torch::zeros({2 * s, lo.numel()}, lo.options());
    const auto ar = torch::arange(s, torch::kLong);
    spec.index_put_({ar, rows}, 1.0);
    spec.index_put_({ar + s, rows}, -1.0);
    const auto bound = backward(spec.view(batch_of(2 * s, shape)), node).concretize(x0_, radius_);
    lo_flat.index_put_({rows}, at::maximum(lo_flat.index({rows}), bound.narrow(0, 0, s)));
    hi_flat.index_put_({rows}, at::minimum(hi_flat.index({rows}), -bound.narrow(0, s, s)));
  }
}

void CrownBounder::relax(const at::Tensor& x0, double radius) {
  torch::NoGradGuard no_grad;
  x0_ = x0.to(torch::kDouble).reshape(input_shape());
  radius_ = radius;
  refined_ = 0;
  input_bounds_.assign(graph_.size(), {});
  // Interval bounds of every node's output, starting from the box around the l2 ball.
  std::vector<std::pair<at::Tensor, at::Tensor>> out(graph_.size());
  const std::pair<at::Tensor, at::Tensor> box{x0_ - radius, x0_ + radius};
  auto bounds_of = [&](int64_t node) -> const std::pair<at::Tensor, at::Tensor>& {
    return node < 0 ? box : out[static_cast<size_t>(node)];
  };
  for (size_t i = 0; i < graph_.size(); ++i) {
    const auto& layer = graph_[i];
    const int64_t from = layer.inputs[0];
    if (layer.kind == NodeKind::Affine) {
      const auto& [lo, hi] = bounds_of(from);
      const auto mid = layer.apply(((lo + hi) / 2).unsqueeze(0)).squeeze(0);
      const auto rad = layer.apply_abs(((hi - lo) / 2).unsqueeze(0)).squeeze(0);
      out[i] = {mid - rad, mid + rad};
      continue;
    }
    if (layer.kind == NodeKind::Add) {
      const auto &a = bounds_of(from), &b = bounds_of(layer.inputs[1]);
      out[i] = {a.first + b.first, a.second + b.second};
      continue;
    }
    auto lo = bounds_of(from).first.clone(), hi = bounds_of(from).second.clone();
    // After an affine node, CROWN tightens what intervals leave loose: for a ReLU only its
    // unstable neurons matter, for a max pool every input does.
    if (static_cast<int64_t>(i) == first_nonlinear_ && first_row_norms_.defined()) {
      // Exact: the affine map's value at x0 +- radius times its rows' norms.
      const auto center = evaluate(graph_, x0_.unsqueeze(0), from).squeeze(0);
      lo = at::maximum(lo, center - radius * first_row_norms_);
      hi = at::minimum(hi, center + radius * first_row_norms_);
    } else if (refine_ && from >= 0 && !graph_[static_cast<size_t>(from)].nonlinear()) {
      const auto which = layer.kind == NodeKind::Relu ? (lo < 0) & (hi > 0) : torch::ones_like(lo, torch::kBool);
      refine(from, lo, hi, which);
    }
    if (from >= 0) out[static_cast<size_t>(from)] = {lo, hi};  // tighter for the node's other readers
    input_bounds_[i] = {lo, hi};
    if (layer.kind == NodeKind::Relu)
      out[i] = {lo.clamp_min(0), hi.clamp_min(0)};
    else
      out[i] = {max_pool(lo.unsqueeze(0), layer).squeeze(0), max_pool(hi.unsqueeze(0), layer).squeeze(0)};
  }
}

LinearBound CrownBounder::lower(const at::Tensor& spec) const {
  if (!x0_.defined()) fail("bound propagation: lower() before relax()");
  torch::NoGradGuard no_grad;
  return backward(spec.to(torch::kDouble), static_cast<int64_t>(graph_.size()) - 1);
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
