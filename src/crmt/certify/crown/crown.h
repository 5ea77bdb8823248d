#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crmt/certify/crown/bound_chain.h"

namespace crmt {

// A linear lower bound a . x + d of spec rows applied to a chain's output, valid for every x of the
// l2 ball the relaxations were made on. a: [S, *input_shape], d: [S] (float64).
struct LinearBound {
  at::Tensor a, d;
  // min over ||x - x0|| <= r of a . x + d, per row: a . x0 + d - r ||a||_2 (the dual norm of l2).
  at::Tensor concretize(const at::Tensor& x0, double r) const;
};

// Backward linear bound propagation (CROWN, Zhang et al. 2018) through one encoder's chain. ReLU:
// the triangle's upper side and the adaptive lower slope (1 when u > -l, else 0); MaxPool2d: the
// window's input with the largest lower bound below, and above it the same input when its lower
// bound clears every other upper bound, else the largest upper bound. Pre-activation bounds of
// every nonlinear layer: exact for the first (an affine map of the ball), then interval
// propagation, refined (optionally) by CROWN itself from that layer back to the input for the
// neurons interval bounds leave unstable (all of a max pool's inputs), the two intersected.
// Float64 throughout.
class CrownBounder {
 public:
  // refine: CROWN-refined pre-activation bounds (tight, one backward pass per chunk of unstable
  // neurons) or interval bounds only after the first nonlinear layer (fast, looser).
  explicit CrownBounder(std::vector<BoundLayer> chain, int64_t chunk = 1024, bool refine = true);

  // Makes the relaxations of every nonlinear layer for the ball ||x - x0|| <= radius (x0: one
  // sample, [*input_shape]). They stay valid for every smaller ball around x0.
  void relax(const at::Tensor& x0, double radius);
  // The lower bound of spec . output (spec [S, *output_shape]) on the ball relax() was given.
  LinearBound lower(const at::Tensor& spec) const;
  // Elementwise bounds [lower, upper] of the chain's output on that ball (CROWN with identity rows).
  std::pair<at::Tensor, at::Tensor> output_bounds() const;

  const std::vector<BoundLayer>& chain() const { return chain_; }
  const std::vector<int64_t>& input_shape() const { return chain_.front().in_shape; }
  const std::vector<int64_t>& output_shape() const { return chain_.back().out_shape; }
  // Neurons whose bounds CROWN refined in the last relax() (the rest were stable by intervals).
  int64_t refined_neurons() const { return refined_; }

 private:
  LinearBound backward(const at::Tensor& spec, size_t end) const;
  // Bounds of the input of layer `end` (the output of layer end - 1): intervals [lo, hi] refined by
  // CROWN where `refine` is true.
  void refine(size_t end, at::Tensor& lo, at::Tensor& hi, const at::Tensor& which);

  std::vector<BoundLayer> chain_;
  int64_t chunk_;
  bool refine_ = true;
  // The layers before the first nonlinear one are one affine map: the bounds of its outputs on a
  // ball are exact, center +- radius * (the l2 norm of each output's row), the norms computed once.
  size_t first_nonlinear_ = 0;
  at::Tensor first_row_norms_;
  at::Tensor x0_;
  double radius_ = 0;
  std::vector<std::pair<at::Tensor, at::Tensor>> input_bounds_;  // of each nonlinear layer
  int64_t refined_ = 0;
};

}  // namespace crmt
