#pragma once
#include <torch/nn/modules/batchnorm.h>

#include "crmt/core/collective.h"

// Debian's LibTorch keeps this member of the BatchNorm2d base template out of its exported symbols,
// yet a class derived from BatchNorm2dImpl needs it in its vtables: crmt defines it (batch_norm.cpp).
template <>
void torch::nn::BatchNormImplBase<2, torch::nn::BatchNorm2dImpl>::pretty_print(std::ostream& stream) const;

namespace crmt {

// torch::nn::BatchNorm2d (same options, parameter and buffer names, so checkpoints and torchvision
// weights load unchanged) that can synchronise: in training mode, in a distributed run with
// distributed.sync_batch_norm, it normalises each rank's shard with the mean and variance of the
// whole global batch, as one process would (PyTorch's SyncBatchNorm). Otherwise it is the plain layer.
class BatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(BatchNorm2d);

// Batch norm of `x` [N, C, ...] in training mode over the union of every rank's `x` in `group`:
// the statistics are all-reduced (two passes: mean, then the centred sum of squares, for accuracy),
// and so are their gradients in backward, so that parameter gradients averaged over the ranks equal
// one process's on the global batch. Updates the running statistics (unbiased variance over the
// global count) and num_batches_tracked like torch's batch norm. Every rank must call it together.
at::Tensor sync_batch_norm(const at::Tensor& x, torch::nn::BatchNorm2dImpl& layer, Collective& group);

}  // namespace crmt
