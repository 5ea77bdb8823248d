#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace crmt {

// Exact t-SNE (van der Maaten & Hinton, JMLR 2008), O(N^2) memory and time per iteration: meant for
// up to a few thousand points (the report uses <= 1000).
//   1. optional PCA to `pca_dims` dimensions;
//   2. conditional affinities p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2), with beta_i
//      found by bisection so that the row's perplexity 2^H(P_i) equals `perplexity`;
//   3. symmetric joint P = (P_cond + P_cond^T) / 2N;
//   4. Student-t (one degree of freedom) Q in the low-dimensional map;
//   5. gradient descent on KL(P || Q): grad_i = 4 sum_j (p_ij - q_ij)(y_i - y_j)/(1 + |y_i - y_j|^2),
//      with momentum (switched from `momentum` to `final_momentum` after `momentum_switch`
//      iterations), per-coordinate adaptive gains (Jacobs 1988, as in the paper) and early
//      exaggeration of P for the first `exaggeration_iterations` iterations.
struct TsneOptions {
  int64_t dims = 2;
  double perplexity = 30;       // reduced to (N - 1) / 3 for small inputs
  int64_t pca_dims = 50;        // 0 = no PCA
  int64_t iterations = 1000;
  double learning_rate = 200;
  double early_exaggeration = 12;
  int64_t exaggeration_iterations = 250;
  double momentum = 0.5;
  double final_momentum = 0.8;
  int64_t momentum_switch = 250;
  uint64_t seed = 0;            // the initial map is N(0, 1e-4 I) from this seed
};

struct TsneResult {
  at::Tensor embedding;  // float64 [N, dims]
  double kl = 0;         // KL(P || Q) of the final map
  double perplexity = 0; // the perplexity used
};

// x: [N, D] (any floating dtype, N >= 2).
TsneResult tsne(const at::Tensor& x, const TsneOptions& options = {});

// Building blocks, exposed for tests.
// Conditional affinities P[i][j] = p_{j|i} (float64 [N, N], zero diagonal, rows sum to 1) from the
// squared distances `sq_distances` [N, N], each row calibrated to `perplexity` within `tol` of
// log(perplexity) in entropy (nats).
at::Tensor conditional_affinities(const at::Tensor& sq_distances, double perplexity, double tol = 1e-5,
                                  int max_iterations = 200);
// Pairwise squared Euclidean distances of the rows of x, float64 [N, N], zero diagonal.
at::Tensor squared_distances(const at::Tensor& x);
// x centred and projected on its first k principal axes (float64 [N, min(k, D, N)]).
at::Tensor pca(const at::Tensor& x, int64_t k);
// Shannon entropy (nats) of each row of a row-stochastic matrix.
at::Tensor row_entropy(const at::Tensor& p);

}  // namespace crmt
