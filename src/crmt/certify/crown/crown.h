#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crmt/certify/crown/bound_graph.h"

namespace crmt {

// A linear lower bound a . x + d of spec rows applied to a chain's output, valid for every x of the
// l2 ball the relaxations were made on. a: [S, *input_shape], d: [S] (float64).
struct LinearBound {
  at::Tensor a, d;
  // min over ||x - x0|| <= r of a . x + d, per row: a . x0 + d - r ||a||_2 (the dual norm of l2).
  at::Tensor concretize(const at::Tensor& x0, double r) const;
};

// Backward linear bound propagation (CROWN, Zhang et al. 2018) through one encoder's graph: the
// coefficients of every node are pushed to its inputs in reverse evaluation order, summed where a
// node feeds two (a residual connection). ReLU: the triangle's upper side and the adaptive lower
// slope (1 when u > -l, else 0); MaxPool2d: the window's input with the largest lower bound below,
// and above it the same input when its lower bound clears every other upper bound, else the
// largest upper bound. Pre-activation bounds of every nonlinear node: exact for the first (an
// affine map of the ball), then interval propagation, refined (optionally) by CROWN itself from
// that node back to the input for the neurons interval bounds leave unstable (all of a max pool's
// inputs), the two intersected. Float64 throughout.
class CrownBounder {
 public:
  // refine: CROWN-refined pre-activation bounds (tight, one backward pass per chunk of unstable
  // neurons) or interval bounds only after the first nonlinear node (fast, looser).
  explicit CrownBounder(std::vector<BoundLayer> graph, int64_t chunk = 1024, bool refine = true);

  // Makes the relaxations of every nonlinear node for the ball ||x - x0|| <= radius (x0: one
  // sample, [*input_shape]). They stay valid for every smaller ball around x0.
  void relax(const at::Tensor& x0, double radius);
  // The lower bound of spec . output (spec [S, *output_shape]) on the ball relax() was given.
  LinearBound lower(const at::Tensor& spec) const;
  // Elementwise bounds [lower, upper] of the graph's output on that ball (CROWN with identity rows).
  std::pair<at::Tensor, at::Tensor> output_bounds() const;

  const std::vector<BoundLayer>& graph() const { return graph_; }
  const std::vector<int64_t>& input_shape() const { return graph_.front().in_shape; }
  const std::vector<int64_t>& output_shape() const { return graph_.back().out_shape; }
  // Neurons whose bounds CROWN refined in the last relax() (the rest were stable by intervals).
  int64_t refined_neurons() const { return refined_; }
  // The l2 norms of the rows of the affine map before the first nonlinear node (its input's shape;
  // undefined when the graph starts with a nonlinearity or has none).
  const at::Tensor& first_row_norms() const { return first_row_norms_; }

 private:
  // The lower bound of spec . (node's output), spec [S, *node's output shape].
  LinearBound backward(const at::Tensor& spec, int64_t node) const;
  // Tightens the interval bounds [lo, hi] of node's output, where `which`, by CROWN.
  void refine(int64_t node, at::Tensor& lo, at::Tensor& hi, const at::Tensor& which);
  // first_row_norms_ by one backward pass per chunk of rows, or by the squared weights when the
  // map is one layer and diagonal ones (batch norm).
  void compute_first_row_norms();

  std::vector<BoundLayer> graph_;
  int64_t chunk_;
  bool refine_ = true;
  // The nodes before the first nonlinear one are one affine map: the bounds of its outputs on a
  // ball are exact, center +- radius * (the l2 norm of each output's row), the norms computed once.
  int64_t first_nonlinear_ = -1;
  at::Tensor first_row_norms_;
  at::Tensor x0_;
  double radius_ = 0;
  std::vector<std::pair<at::Tensor, at::Tensor>> input_bounds_;  // of each nonlinear node's input
  int64_t refined_ = 0;
};

}  // namespace crmt
