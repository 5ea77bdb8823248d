#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crmt/certify/certificate.h"
#include "crmt/certify/crown/crown.h"

namespace crmt {

struct CrownOptions {
  double initial_radius = 0.0625;  // smallest first ball tried (else the guaranteed-Lipschitz radius)
  int max_evaluations = 16;        // balls tried per radius
  double tolerance = 0.05;         // the search stops when (hi - certified) <= tolerance * hi
  int64_t chunk = 1024;            // neurons refined per backward pass (memory)
  bool progress = false;           // a progress bar over samples on stderr
  // Pre-activation bounds after the first layer: "crown" (refined by bound propagation: tighter,
  // about a backward pass per 1024 unstable neurons and evaluation) or "interval" (fast).
  std::string intermediate = "crown";
};

// One sample's sound radii. Each modality's encoder is bounded by CROWN on a ball of radius R
// around its input: a linear lower bound A(m) x(m) + d(m) of its contribution to every margin
// h_p - h_j. Under the joint budget ||(x(1) - x0(1), ..., x(M) - x0(M))|| <= r the margin is at
// least sum_m (A(m) x0(m) + d(m)) + b_p - b_j - r ||[A(1), ..., A(M)]||, so the sample is certified
// at r <= R when that stays positive for every j; under a budget on modality m alone (Proposition
// 3.4) the other modalities contribute their exact clean values. Every evaluation at R gives a
// sound radius min(R, bound); the search (search()) keeps the largest.
struct CrownRadius {
  double joint = 0;
  std::vector<double> unimodal;  // per modality
  int64_t nearest_class = 0;     // the j whose bound limits the joint radius
  int evaluations = 0;
};

class CrownCertifier {
 public:
  // Throws crmt::Error naming what it cannot bound: a joint encoder, an embedding filter, or an
  // encoder's layers (bound_graph). `lipschitz_eta` (optional, float64 [M, K, K]): guaranteed
  // vulnerability indicators; when given, each class pair's bound is the better of CROWN's and the
  // global Lipschitz one (both sound), so the radius is never below the guaranteed-Lipschitz radius.
  CrownCertifier(MultiModalNet& net, CrownOptions options = {}, at::Tensor lipschitz_eta = {});
  // x0: one sample per modality (model order, no batch dimension); p: the predicted class.
  CrownRadius radius(const std::vector<at::Tensor>& x0, int64_t p);

 private:
  struct Sample;  // one sample's inputs, specs and clean contributions
  // The radius the relaxations on the ball of radius R support (sound up to min(R, it)), for the
  // joint budget (modality < 0) or for modality `modality` alone; `nearest` gets the limiting row.
  double bound_at(const Sample& s, int modality, double R, int64_t* nearest);
  // The largest sound radius over a sequence of balls R (a fixed-point search on bound_at).
  double search(const Sample& s, int modality, double start, int64_t* nearest, int* evaluations);

  MultiModalNet net_;
  CrownOptions options_;
  at::Tensor eta_;
  std::vector<CrownBounder> bounders_;
  std::vector<at::Tensor> weights_;  // C(m) [K, dim], float64
  at::Tensor bias_;                  // [K]
};

// certify() with bound-propagation radii: the per-sample radius, runner-up radius (the same bound)
// and uni-modal radii are CrownCertifier's, each class pair bounded by the better of CROWN and the
// guaranteed Lipschitz constants, which also give eta and the vulnerability table. cert.bound is
// "crown".
Certificate certify_crown(MultiModalNet& net, const MultiModalDataset& data, const std::vector<double>& radii,
                          const CrownOptions& options = {});

}  // namespace crmt
