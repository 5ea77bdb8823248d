#include "crmt/attacks/perturbation.h"

#include <ATen/ATen.h>

#include <limits>

#include "crmt/core/error.h"

namespace crmt {

namespace {
std::vector<at::Tensor> scaled(const std::vector<at::Tensor>& parts, const at::Tensor& scale) {
  std::vector<at::Tensor> out;
  for (const auto& p : parts) out.push_back(p * per_sample(scale, p));
  return out;
}
}  // namespace

at::Tensor per_sample(const at::Tensor& scale, const at::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return scale.view(shape);
}

at::Tensor joint_squared_norm(const std::vector<at::Tensor>& parts) {
  at::Tensor sq;
  for (const auto& p : parts) {
    auto s = p.flatten(1).pow(2).sum(1);
    sq = sq.defined() ? sq + s : s;
  }
  return sq;
}

at::Tensor joint_norm(const std::vector<at::Tensor>& parts) { return joint_squared_norm(parts).sqrt(); }

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
  return scaled(parts, at::where(norm > eps, eps / norm.clamp_min(1e-30), at::ones_like(norm)));
}

std::vector<at::Tensor> project_joint_ball(const std::vector<at::Tensor>& parts, const at::Tensor& eps) {
  auto norm = joint_norm(parts);
  return scaled(parts, at::where(norm > eps, eps / norm.clamp_min(1e-30), at::ones_like(norm)));
}

at::Tensor clamp_to_range(const at::Tensor& x, const ModalitySpec& spec) {
  if (!spec.bounded()) return x;
  if (!spec.per_channel()) return x.clamp(spec.lower, spec.upper);
  // One range per channel: the third-from-last axis of x ([N, C, H, W] or [N, T, C, H, W]).
  if (x.dim() < 3)
    fail("modality '{}': per-channel bounds need inputs with a channel axis, got {} dimensions", spec.name, x.dim());
  const int64_t channels = x.size(-3);
  auto bound = [&](const std::vector<double>& values, double fill, const char* what) {
    if (values.empty()) return at::full({channels, 1, 1}, fill, x.options());
    if (static_cast<int64_t>(values.size()) != channels)
      fail("modality '{}': {} has {} entries but the input has {} channels", spec.name, what, values.size(), channels);
    return at::tensor(values, x.options().dtype(at::kDouble)).to(x.scalar_type()).reshape({channels, 1, 1});
  };
  const double inf = std::numeric_limits<double>::infinity();
  return x.clamp(bound(spec.channel_lower, -inf, "channel_lower"), bound(spec.channel_upper, inf, "channel_upper"));
}

}  // namespace crmt
