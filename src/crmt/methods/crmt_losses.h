#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace crmt {

// L1 of Eq. 12 per sample: log( sum_m sum_{k != y} exp(s_k(m) - s_y(m)) + floor ), evaluated as a
// log-sum-exp over (m, k != y) and log(floor) so that it stays finite for scores of any magnitude.
// floor = 0 is the paper's formula, which is unbounded below: the encoders could lower it for ever
// by scaling their embeddings up. The official code adds 1e-5 (crmt.l1_floor), capping it at
// log(1e-5). [N]
at::Tensor margin_regularizer_per_sample(const std::vector<at::Tensor>& unimodal_scores, const at::Tensor& labels,
                                         double floor = 0.0);
// Its mean over the batch, the term step 1 adds with weight rho.
at::Tensor margin_regularizer(const std::vector<at::Tensor>& unimodal_scores, const at::Tensor& labels,
                              double floor = 0.0);

// The largest logit among classes other than `labels` (the runner-up j of the paper). [N]
at::Tensor runner_up(const at::Tensor& logits, const at::Tensor& labels);

// The lower bound r(x) of Theorem 3.5 (Eq. 10) per sample for an orthogonal head:
//   (sum_m a_y(m) s_y(m) - a_j(m) s_j(m) + b_y - b_j) / sqrt(sum_m (|a_y(m)| tau_y(m) + |a_j(m)| tau_j(m))^2)
// scores[m] = W~(m) phi(m) [N, K], a[m] [K], bias [K], tau [M, K] (Lipschitz of each uni-modal score),
// y and j [N]. Differentiable in a and bias. [N]
at::Tensor orthogonal_certified_bound(const std::vector<at::Tensor>& scores, const std::vector<at::Tensor>& a,
                                      const at::Tensor& bias, const at::Tensor& tau, const at::Tensor& y,
                                      const at::Tensor& j);

}  // namespace crmt
