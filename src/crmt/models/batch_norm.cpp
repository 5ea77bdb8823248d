#include "crmt/models/batch_norm.h"

#include <torch/autograd.h>

#include "crmt/core/error.h"

// As torch prints it.
template <>
void torch::nn::BatchNormImplBase<2, torch::nn::BatchNorm2dImpl>::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torch::nn::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=";
  if (options.momentum().has_value()) stream << *options.momentum();
  else stream << "None";
  stream << ", affine=" << options.affine() << ", track_running_stats=" << options.track_running_stats() << ")";
}

namespace crmt {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// out = sum over ranks of x; the gradient of each rank's x is the sum over ranks of the gradients
// of out (every rank's out depends on every rank's x).
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t group_address) {
    // The group travels as an address: saved_data holds IValues only. It outlives the graph
    // (installed for the whole run), and backward may run on another thread (CUDA), where
    // collective() would be the same object anyway.
    ctx->saved_data["group"] = group_address;
    std::vector<at::Tensor> v{x.clone()};
    reinterpret_cast<Collective*>(group_address)->all_reduce_sum(v);
    return v[0];
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto* group = reinterpret_cast<Collective*>(ctx->saved_data["group"].toInt());
    std::vector<at::Tensor> v{grad[0].contiguous().clone()};
    group->all_reduce_sum(v);
    return {v[0], at::Tensor()};
  }
};

at::Tensor all_reduce_sum(const at::Tensor& x, Collective& group) {
  return AllReduceSum::apply(x, static_cast<int64_t>(reinterpret_cast<intptr_t>(&group)));
}

}  // namespace

at::Tensor sync_batch_norm(const at::Tensor& input, torch::nn::BatchNorm2dImpl& layer, Collective& group) {
  if (input.dim() < 2) fail("sync batch norm needs [N, C, ...] input, got {} dimension(s)", input.dim());
  const auto& o = layer.options;
  const int64_t c = input.size(1);
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < input.dim(); ++d) dims.push_back(d);
  std::vector<int64_t> shape(input.dim(), 1);
  shape[1] = c;
  // Statistics in fp32 whatever the autocast dtype, as torch's batch norm keeps them.
  const bool low_precision = input.scalar_type() == at::kHalf || input.scalar_type() == at::kBFloat16;
  const auto x = low_precision ? input.to(at::kFloat) : input;
  const double local_count = static_cast<double>(c > 0 ? x.numel() / c : 0);
  // The count rides with the sums: one collective for both.
  auto sums = all_reduce_sum(at::cat({x.sum(dims), at::full({1}, local_count, x.options())}), group);
  // Kept on the device: reading it would stall the host once per layer.
  const auto count = sums.narrow(0, c, 1).detach();
  auto mean = sums.narrow(0, 0, c) / count;
  auto centred = x - mean.view(shape);
  auto var = all_reduce_sum(centred.pow(2).sum(dims), group) / count;
  auto y = centred * (var + o.eps()).rsqrt().view(shape);
  if (o.affine()) y = y * layer.weight.view(shape) + layer.bias.view(shape);
  if (o.track_running_stats()) {
    torch::NoGradGuard no_grad;
    layer.num_batches_tracked += 1;
    const double momentum = o.momentum().has_value() ? *o.momentum()
                                                     : 1.0 / static_cast<double>(layer.num_batches_tracked.item<int64_t>());
    layer.running_mean.mul_(1 - momentum).add_(mean.detach().to(layer.running_mean.dtype()), momentum);
    layer.running_var.mul_(1 - momentum).add_((var.detach() * count / (count - 1).clamp_min(1)).to(layer.running_var.dtype()), momentum);
  }
  return low_precision ? y.to(input.scalar_type()) : y;
}

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& input) {
  auto& group = collective();
  if (!is_training() || !group.sync_batch_norm || !group.distributed()) return torch::nn::BatchNorm2dImpl::forward(input);
  return sync_batch_norm(input, *this, group);
}

}  // namespace crmt
