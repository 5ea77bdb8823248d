#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crmt/core/collective.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Keeps a model's replicas identical across the ranks of a data-parallel run, as PyTorch's
// DistributedDataParallel does: rank 0's state at the start, gradients averaged over the global batch
// after every backward, rank 0's batch-norm buffers before every forward (unless batch norm is
// synchronised, when they agree anyway). In a world of one every call returns at once.
class DataParallel {
 public:
  explicit DataParallel(Collective& group) : group_(group) {}
  bool active() const { return group_.distributed(); }

  // Rank 0's parameters and buffers of `net`, and `extra` tensors (a method's own), on every rank.
  void broadcast_state(MultiModalNet& net, const std::vector<at::Tensor>& extra = {});
  // Rank 0's buffers (batch-norm running statistics) on every rank: the DDP default before a
  // training forward. Skipped with synchronised batch norm, whose statistics every rank shares.
  void broadcast_buffers(MultiModalNet& net);
  // After backward: each parameter's gradient becomes the gradient of the loss over the global
  // batch. A rank's gradient is weighted by its share of the samples (n_r / sum n), so that uneven
  // shards still give one process's mean-reduced gradient. A gradient some rank lacks counts as zero
  // there; one no rank has stays undefined (the optimizer skips it, as in one process).
  void average_gradients(const std::vector<at::Tensor>& params, int64_t local_samples);
  // Wall time spent in the calls above since the last take (seconds), and resets it: what data
  // parallelism costs in communication (and in waiting for the slowest rank).
  double take_communication_seconds();

 private:
  Collective& group_;
  double communication_seconds_ = 0;
};

}  // namespace crmt
