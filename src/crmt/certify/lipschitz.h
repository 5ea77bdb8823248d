#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace torch::nn {
class Module;
}

namespace crmt {

// Lipschitz constants, with respect to x(m) (l2), of modality m's uni-modal scores
// s(m) = unimodal_scores[m] = R(m) phi(m)(x(m)) (R(m) = W(m) for a concat head, W~(m) for an
// orthogonal one): the tau of Eq. 4 / Eq. 9 of the paper, for every class and every class pair.
struct LipschitzEstimate {
  std::string kind;                     // "empirical" (largest observed gradient) or "guaranteed" (upper bound)
  std::vector<std::string> modalities;  // in the model's order
  int64_t num_classes = 0;
  int64_t samples = 0;                  // samples the empirical estimate saw (0 for a guaranteed bound)
  at::Tensor tau;                       // float64 [M, K]: Lipschitz of s_k(m)
  at::Tensor pairwise;                  // float64 [M, K, K]: Lipschitz of s_y(m) - s_j(m) (0 on the diagonal)

  double tau_at(size_t m, int64_t k) const;
  double pairwise_at(size_t m, int64_t y, int64_t j) const;
  bool guaranteed() const { return kind == "guaranteed"; }
};

// "empirical" | "guaranteed"; anything else is a crmt::Error.
std::string check_lipschitz_kind(const std::string& kind);

// R(m): the K x dim(m) matrix with unimodal_scores[m] = R(m) phi(m) + const, read off the head by
// probing it with unit embeddings (works for every late-fusion head). float64, no gradient.
at::Tensor unimodal_score_weight(MultiModalNet& net, size_t m);

// Per-sample Gram matrices G = J J^T [B, K, K] (float64) of the Jacobian J [K, numel(x(m))] of
// s(m) with respect to x(m), for the inputs x [B, ...] of modality m. One backward pass through
// encoder m only, batched over classes (the batch is repeated K times). Uses the model's current
// mode (call net->eval() first for batch-norm models).
at::Tensor unimodal_jacobian_gram(MultiModalNet& net, size_t m, const at::Tensor& x);
// The same from all modalities' inputs (in the model's order). For a joint encoder (MMTM, a
// multi-modal transformer) the other modalities are held at their values: the local sensitivity of
// s(m) to x(m) alone, an empirical quantity that no theorem of section 3 turns into a certificate.
at::Tensor unimodal_jacobian_gram(MultiModalNet& net, size_t m, const std::vector<at::Tensor>& inputs);

// (a) What the paper's code does, restricted to modality m's encoder: the largest Jacobian-row norm
// over the first `max_samples` samples of `data` (0 = all): tau_k = max_i sqrt(G_kk),
// pairwise_yj = max_i sqrt(G_yy + G_jj - 2 G_yj). A lower bound of the true constants, not a
// guarantee. For a joint-encoder model it measures s(m)'s sensitivity to x(m) with the other
// inputs held (what CRMT's step 2 weighs), which certify() refuses to turn into radii. The model is evaluated in eval mode and its mode is restored afterwards.
LipschitzEstimate empirical_lipschitz(MultiModalNet& net, const MultiModalDataset& data, int64_t max_samples = 0,
                                      int64_t batch_size = 64);

// (b) A guaranteed upper bound: products of per-layer operator norms of each encoder's Sequential
// body, one entry per layer type in the table of layer_bounds.h (Linear, Conv2d with a following
// BatchNorm folded in, eval-mode BatchNorm, ReLU, max/average pooling, Flatten, Identity, Dropout).
// When the encoder ends with a Linear layer A the score rows use ||r^T A||_2 * L(rest), which is
// exact for a linear encoder. Throws crmt::Error for encoders it cannot bound, naming every layer
// without a table entry at once (type and position), e.g. ResNet-18's residual blocks.
LipschitzEstimate guaranteed_lipschitz(MultiModalNet& net);
// Whether guaranteed_lipschitz can bound every encoder of `net`; `why` gets the reason if not.
bool guaranteed_lipschitz_supported(MultiModalNet& net, std::string* why = nullptr);

// Either of the above by name ("empirical" | "guaranteed").
LipschitzEstimate estimate_lipschitz(MultiModalNet& net, const MultiModalDataset& data, const std::string& kind,
                                     int64_t max_samples = 0);

// Building blocks, exposed for tests.
// ||A||_2 of a matrix (largest singular value, exact), computed in float64.
double spectral_norm(const at::Tensor& matrix);
// Operator norm of the convolution y = conv2d(x, weight) (no bias; zero padding) as a linear map on
// inputs of shape [C, H, W], by power iteration with conv2d / conv_transpose2d in float64. Stops
// when the estimate changes by less than `tol` (relative), after `max_iterations`, or once it
// reaches `stop_at` (for a caller that keeps min(bound, estimate), iterating past it is wasted).
// Converges from below.
double conv2d_operator_norm(const at::Tensor& weight, const std::vector<int64_t>& input_chw,
                            std::vector<int64_t> stride, std::vector<int64_t> padding,
                            std::vector<int64_t> dilation, int64_t groups, int max_iterations = 2000,
                            double tol = 1e-10, uint64_t seed = 0,
                            double stop_at = std::numeric_limits<double>::infinity());
// A rigorous upper bound of the same operator norm (stride 1 or more, any padding): the norm of the
// circular convolution on a grid large enough that zero padding never wraps, i.e. the largest
// singular value over frequencies of the FFT of the kernel (Sedghi et al. 2019).
double conv2d_norm_upper_bound(const at::Tensor& weight, const std::vector<int64_t>& input_chw,
                               std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups);

}  // namespace crmt
