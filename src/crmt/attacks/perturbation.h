#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "crmt/core/modality.h"

namespace crmt {

// Helpers for l2 attacks whose budget covers the concatenation of several modalities: the norm of
// a sample's perturbation is sqrt(sum_m ||delta(m)||^2).

// A per-sample scale [N] reshaped to broadcast against a [N, ...] tensor.
at::Tensor per_sample(const at::Tensor& scale, const at::Tensor& like);
// Per-sample sum_m ||parts[m]||^2 [N] of tensors that share the leading dimension N.
at::Tensor joint_squared_norm(const std::vector<at::Tensor>& parts);
// Per-sample joint l2 norm [N].
at::Tensor joint_norm(const std::vector<at::Tensor>& parts);
// parts / joint norm, per sample; a zero part stays zero (no division by a zero norm).
std::vector<at::Tensor> joint_normalize(const std::vector<at::Tensor>& parts);
// Scales each sample's parts so that the joint norm is at most eps (one eps, or one per sample [N]).
std::vector<at::Tensor> project_joint_ball(const std::vector<at::Tensor>& parts, double eps);
std::vector<at::Tensor> project_joint_ball(const std::vector<at::Tensor>& parts, const at::Tensor& eps);
// Clamps x to the spec's valid range (no-op for an unbounded modality).
at::Tensor clamp_to_range(const at::Tensor& x, const ModalitySpec& spec);

}  // namespace crmt
