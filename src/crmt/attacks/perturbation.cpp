#include "crmt/attacks/perturbation.h"

namespace crmt {

namespace {
// Reshapes a per-sample scale [N] so it broadcasts against a [N, ...] tensor.
at::Tensor per_sample(const at::Tensor& scale, const at::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return scale.view(shape);
}
}  // namespace

at::Tensor joint_norm(const std::vector<at::Tensor>& parts) {
  at::Tensor sq;
  for (const auto& p : parts) {
    auto s = p.flatten(1).pow(2).sum(1);
    sq = sq.defined() ? sq + s : s;
  }
  return sq.sqrt();
}

std::vector<at::Tensor> joint_normalize(const std::vector<at::Tensor>& parts) {
  auto norm = joint_norm(parts);
  // Where the gradient vanishes the direction is undefined: leave that sample unperturbed.
  auto safe = at::where(norm > 0, norm, at::ones_like(norm));
  std::vector<at::Tensor> out;
  for (const auto& p : parts) out.push_back(p / per_sample(safe, p));
  return out;
}

std::vector<at::Tensor> project_joint_ball(const std::vector<at::Tensor>& parts, double eps) {
  auto norm = joint_norm(parts);
  auto scale = at::where(norm > eps, eps / norm.clamp_min(1e-30), at::ones_like(norm));
  std::vector<at::Tensor> out;
  for (const auto& p : parts) out.push_back(p * per_sample(scale, p));
  return out;
}

at::Tensor clamp_to_range(const at::Tensor& x, const ModalitySpec& spec) {
  if (!spec.bounded()) return x;
  return x.clamp(spec.lower, spec.upper);
}

}  // namespace crmt
